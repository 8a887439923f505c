package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: linkis <command> [flags]\n\ncommands:"+
			"\n  run          run one job on a system started for it: --engine shell|python|sql (--code CODE | --file F) [--var k=v]..."+
			"\n  server       run manager, ECM and entrance for a team: --data-dir DIR [--http-addr HOST:PORT] [--users FILE]"+
			"\n  demo   run a small manager scenario and print its decisions\n  sim    simulate a scenario under virtual time (linkis sim --scenario FILE)"+
			"\n  ecm          run the host agent that launches engines (--manager URL --data-dir DIR --http-addr HOST:PORT)"+
			"\n  engineconn   run one engine (started by an ECM, never by hand)"+
			"\n  manager      run a manager cluster member (--id ID --data-dir DIR --raft-addr HOST:PORT --http-addr HOST:PORT --bootstrap|--join URL)"+
			jobsUsage)
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	switch flag.Arg(0) {
	case "run":
		err = runRun(os.Stdout, flag.Args()[1:])
	case "server":
		err = runServer(os.Stdout, flag.Args()[1:])
	case "demo":
		err = runDemo(os.Stdout, flag.Args()[1:])
	case "sim":
		err = runSim(os.Stdout, os.Stderr, flag.Args()[1:])
	case "ecm":
		err = runECM(flag.Args()[1:])
	case "engineconn":
		err = runEngineConn(flag.Args()[1:])
	case "manager":
		err = runManager(flag.Args()[1:])
	case "submit", "status", "log", "result", "kill", "list":
		err = runJobs(flag.Arg(0), os.Stdout, flag.Args()[1:])
	default:
		fmt.Fprintf(os.Stderr, "linkis: unknown command %q\n", flag.Arg(0))
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "linkis:", err)
		os.Exit(1)
	}
}
