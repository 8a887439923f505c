// Package entrancetest runs the real Entrance without engines or hosts:
// a replicated state in memory (raftstore.Memory) with one ECM registered,
// a Runner that plays an engine - it logs, reports a task on that ECM and
// writes a result set where an ECM keeps them - and HostData that serves
// that task's log and results from the test's directory as the ECM would.
// It is test support for the entrance, the REST API and the command line;
// it must never serve real users.
package entrancetest
