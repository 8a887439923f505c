// Command linkis is the project's single binary. Each subcommand parses its
// flags and wires packages together; no logic lives here. help.go lists
// the subcommands (commands), with the usage line, one-sentence
// description and example that `linkis help NAME` and `linkis NAME
// --help` print (exit 0) with the flags; `linkis --version` prints the
// version.
//
//	linkis run         one job on a system started for it
//	linkis server      manager, ECM and entrance for a team (REST API)
//	linkis submit, status, log, result, kill, list: the job commands
//	linkis demo        a small manager scenario and its decisions
//	linkis sim         the simulator (package sim)
//	linkis ecm         the host agent that launches engines (package ecm)
//	linkis engineconn  one engine, started by an ECM (package engineconn)
//	linkis manager     a member of the manager cluster (raftstore.RunMember)
//
// Flags are parsed before anything starts, so help never has side
// effects; a command started without a flag it needs names every missing
// one. Secrets (tokens) never are flag defaults, which help would print:
// they are read from the environment after parsing.
package main
