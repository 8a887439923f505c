// Command linkis is the project's single binary. Each subcommand parses its
// flags and wires packages together; no logic lives here.
//
//	linkis demo    run a small manager scenario and print its decisions
//
// Later issues add manager, ecm, engineconn, run, server, submit and sim.
package main
