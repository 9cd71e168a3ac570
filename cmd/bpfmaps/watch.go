package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/pollwait"
)

// signalContext is cancelled by Ctrl-C or SIGTERM, and after timeout when
// it is positive.
func signalContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if timeout <= 0 {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

// waitError turns the end of ctx into the error a blocking command reports.
func waitError(ctx context.Context, timeout time.Duration, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: timed out after %v", what, timeout)
	}
	return fmt.Errorf("%s: interrupted", what)
}

func runWatch(args []string, stdout io.Writer) error {
	fs := newFlags("watch", "MAP KEY", `Wait until KEY exists, or, when it exists already, until its value changes;
then print the value and exit. A deleted key prints "deleted". Ctrl-C stops
the wait (exit status 1), as does --timeout.

`+mapRefHelp+"\n\n"+bytesHelp+"\n\n"+layoutHelp+"\n\n"+btfFieldsHelp+"\n\n"+filesHelp, stdout)
	ff := addFormatFlags(fs, true)
	timeout := durationVar(fs, "timeout", 0, "give up after this `duration` (exit status 1); 0 waits forever")
	interval := durationVar(fs, "interval", 10*time.Millisecond, "the longest time between two looks at the key, a `duration` (maps cannot notify; looks start 100µs apart and back off to it)")
	return mapCommand(fs, args, 2, func(m *bpfMap, args []string) error {
		if *interval <= 0 {
			return usageError{"--interval must be positive"}
		}
		if err := m.readable("watch"); err != nil {
			return err
		}
		if m.keyless() {
			return usageError{fmt.Sprintf("%s is %s without keys: use peek or pop", m, m.aType())}
		}
		ctx, cancel := signalContext(*timeout)
		defer cancel()
		ff.timeout = *timeout
		ks, vs, key, err := ff.sidesAndKey(ctx, m, args[0])
		if err != nil {
			return err
		}
		what := fmt.Sprintf("%s: watch %s", m, ks.text(key))
		values, err := m.watch(ctx, key, *interval)
		switch {
		case ctx.Err() != nil:
			return waitError(ctx, *timeout, what)
		case err != nil:
			return m.wrap("watch "+ks.text(key), err)
		case values == nil:
			fmt.Fprintln(stdout, "deleted")
		case ff.json:
			return writeJSON(stdout, m.jsonEntry(key, values, ks, vs))
		case m.PerCPU():
			m.printEntry(stdout, nil, values, ks, vs)
		default:
			fmt.Fprintln(stdout, vs.text(values[0]))
		}
		return nil
	})
}

// watch polls key, as refs' watchers do (pollwait), until it appears
// (when missing now) or its value differs from the current one; it
// returns the new value, nil when the key was deleted.
func (m *bpfMap) watch(ctx context.Context, key []byte, interval time.Duration) ([][]byte, error) {
	first, err := m.lookup(key)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, err
	}
	var now [][]byte
	err = pollwait.Until(ctx, interval, nil, nil, nil, func() (bool, error) {
		var err error
		now, err = m.lookup(key)
		switch {
		case errors.Is(err, unix.ENOENT):
			return first != nil, nil // deleted, or not there yet
		case err != nil:
			return false, err
		}
		return first == nil || !bytes.Equal(bytes.Join(now, nil), bytes.Join(first, nil)), nil
	})
	if err != nil {
		return nil, err
	}
	return now, nil
}
