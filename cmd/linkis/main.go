package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(runMain(os.Stdout, os.Stderr, os.Args[1:]))
}

// runMain runs the command line args and returns the exit status: 0 for
// success and for help, 1 for a command that failed, 2 for a command line
// that names no command or an unknown one.
func runMain(stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			usage(stdout)
			return 0
		}
		if err := commandHelp(stdout, rest[0]); err != nil {
			fmt.Fprintln(stderr, "linkis:", err)
			return 2
		}
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "linkis: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	err := c.run(stdout, rest)
	var hr *helpRequest
	switch {
	case errors.As(err, &hr) && hr.text != "":
		fmt.Fprint(stdout, hr.text)
		return 0
	case errors.As(err, &hr):
		writeHelp(stdout, c, hr.flags)
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "linkis:", err)
		return 1
	}
	return 0
}
