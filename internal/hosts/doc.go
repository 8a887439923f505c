// Package hosts is a bench of hosts on one Linux machine, for tests of a
// system that runs on several: each host is a network namespace with its
// own address (10.77.0.N/24) on a virtual switch - a bridge in a
// namespace of its own, each host joined to it by a veth pair - so the
// processes a test starts on a host talk to the other hosts' addresses,
// and to nothing else.
//
// A test makes a Net, adds its hosts, starts programs on them
// (Host.Command, Host.Start) and injects faults: Proc.Kill (kill -9 of one
// process), Host.Crash (kill -9 of everything on the host - the engines it
// started too), Host.Disconnect and Reconnect (its link to the switch down
// and up: a partition). The test itself stays in the machine's namespace;
// its clients dial from inside a host (Host.DialContext, Host.HTTPClient),
// which is how a client on the same host as a cut-off server still reaches
// it.
//
// # What it must never do
//
// It never touches the machine's own network namespace: no interface,
// address or route is added there, so tests running side by side cannot
// disturb each other or the machine. It never leaves anything behind: the
// Net's cleanup (registered with t.Cleanup, so it runs when the test fails
// too) kills every process in its namespaces - found through the
// namespace, so processes the test's programs started are found too - and
// deletes the namespaces. Processes are started with the parent-death
// signal from a thread that lives as long as they do, so they die with the
// test binary even when it is killed (a test timeout); namespaces left by
// a killed test binary are removed by the next New (their names carry the
// binary's pid).
//
// It needs root and the ip command (iproute2): New fails the test, with
// the reason, when it cannot build the network - it never skips.
package hosts
