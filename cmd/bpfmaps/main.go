// Command bpfmaps inspects and drives BPF maps with nothing but bpf(2).
//
// Usage:
//
//	bpfmaps <command> [flags] [arguments]
//
// Commands:
//
//	list    print every BPF map on the system
//	info    describe one map
//	dump    print every entry of a map (hex, integers, fields or JSON)
//	get     print the value under a key
//	put     store a value under a key
//	del     delete a key
//	watch   wait until a key exists or its value changes
//	tail    print the records of a ringbuf as they arrive
//	push    push onto a queue or stack
//	pop     pop from a queue or stack
//	peek    print the next element of a queue or stack
//	pin     pin a map on a bpf filesystem
//	freeze  make a map read-only for user space
//	demo    show the library at work on this machine for a few seconds
//
// A map is named by id (12 or id:12), pinned path or name. Keys and values
// are hex bytes ("0a 0b" or 0x0a0b), sized integers (u32:7, be16:80), or
// field=value pairs for a --layout.
//
// Run "bpfmaps <command> --help" for a command's flags. Exit status is 0 on
// success, 1 when an operation failed and 2 for a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand of the tool.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout io.Writer) error
}

var commands = []command{
	{"list", "print every BPF map on the system", runList},
	{"info", "describe one map", runInfo},
	{"dump", "print every entry of a map (hex, integers, fields or JSON)", runDump},
	{"get", "print the value under a key", runGet},
	{"put", "store a value under a key", runPut},
	{"del", "delete a key", runDel},
	{"watch", "wait until a key exists or its value changes", runWatch},
	{"tail", "print the records of a ringbuf as they arrive", runTail},
	{"push", "push a value onto a queue or stack", runPush},
	{"pop", "remove and print the next element of a queue or stack", runPop},
	{"peek", "print the next element of a queue or stack", runPeek},
	{"pin", "pin a map on a bpf filesystem", runPin},
	{"freeze", "make a map read-only for user space", runFreeze},
	{"demo", "show the library at work on this machine for a few seconds", runDemo},
}

// usageError marks a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: bpfmaps <command> [flags] [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'bpfmaps <command> --help' for a command's flags.")
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// diagnostics is where a command says what it could not do but went on
// without (the standard error of run's caller); commands write their
// results to stdout only.
var diagnostics io.Writer = os.Stderr

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	diagnostics = stderr
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "bpfmaps %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "bpfmaps %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "bpfmaps: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// newFlags returns a flag set for a subcommand whose errors are reported
// by run, not by the flag package.
func newFlags(name, argsUsage, summary string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bpfmaps %s [flags] %s\n\n%s\n\nflags:\n", name, argsUsage, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns flag errors into usage errors. Flags
// may come after the positional arguments too ("get counts u32:1 --int"),
// negative numbers are positional, and after "--" everything is.
// fs.Args() holds the positional arguments afterwards.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" || isInteger(a) {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && i+1 < len(args) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(flags)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError{err.Error()}
	}
	return fs.Parse(append([]string{"--"}, positional...))
}
