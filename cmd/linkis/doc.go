// Command linkis is the project's single binary. Each subcommand parses its
// flags and wires packages together; no logic lives here.
//
//	linkis demo        run a small manager scenario and print its decisions
//	linkis manager     a member of the manager cluster (raftstore.RunMember)
//	linkis ecm         the host agent that launches engines (package ecm)
//	linkis engineconn  one engine, started by an ECM (package engineconn)
//	linkis sim         the simulator (package sim)
//
// The "Jobs end to end" issue adds run, server, submit, status, log,
// result, kill and list.
package main
