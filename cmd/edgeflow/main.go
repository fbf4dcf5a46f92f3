package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand name and
// returns an error to print (exit 1), or errUsage (exit 2).
type command struct {
	name    string
	summary string
	usage   string // "edgeflow run [flags] FILE..." followed by a longer text with examples
	run     func(ctx context.Context, args []string, stdio stdio) error
}

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("edgeflow: command " + c.name + " registered twice")
	}
	commands[c.name] = c
}

// errUsage asks main to print the command's usage and exit 2.
var errUsage = errors.New("usage")

// exitError lets a command choose its exit status (lint exits 1 on findings).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr}))
}

func runMain(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprintln(io.out, c.usage)
				return 0
			}
		}
		printHelp(io.out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(io.err, "edgeflow: unknown command %q\n\n", args[0])
		printHelp(io.err)
		return 2
	}
	err := c.run(ctx, args[1:], io)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(io.err, c.usage)
		return 2
	case errors.As(err, &ee):
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(io.err, ee.err)
		}
		return ee.code
	default:
		fmt.Fprintf(io.err, "edgeflow %s: %v\n", c.name, err)
		return 1
	}
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "edgeflow — federated stream processing for edge nodes\n\nUsage: edgeflow COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'edgeflow COMMAND --help' for a command's flags and examples.")
}

// newFlagSet returns a FlagSet whose -h/--help prints c.usage then the flags.
func newFlagSet(c command, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(out, strings.TrimRight(c.usage, "\n"))
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}
