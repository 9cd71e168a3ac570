package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"time"

	"github.com/bpfmaps/bpfmaps/btf"
)

// maxFileSize bounds every file the tool reads because a flag named it
// (--btf): the btf package's bound, which refuses anything larger before
// it is read.
const maxFileSize = btf.MaxFileSize

// filesHelp is what --help says about files named by flags.
const filesHelp = `A file named by --btf must be a regular file of at most 256 MiB (devices,
FIFOs and sockets are refused); under --timeout, reading and parsing it
count towards the timeout.`

// fileErr names the flag and the path in err, once.
func fileErr(flag, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", flag, path, err)
}

// loadBTFFile parses the BTF of the file at path, named by --btf: an ELF
// object's .BTF section (clang -g -target bpf), raw BTF such as
// /sys/kernel/btf/vmlinux, or a module's split BTF under /sys/kernel/btf.
// Files the btf package refuses to read (not regular, too large) are
// usage errors.
func loadBTFFile(path string) (*btf.Spec, error) {
	spec, err := btf.LoadFile(path)
	var refused *btf.RefusedError
	if errors.As(err, &refused) {
		return nil, usageError{fmt.Sprintf("--btf %s: %s", path, refused.Reason)}
	}
	if err != nil {
		return nil, fileErr("--btf", path, err)
	}
	return spec, nil
}

// loadBTFType loads --btf file and finds --type name in it, within ctx.
func loadBTFType(ctx context.Context, file, name string) (*btfType, error) {
	return within(ctx, func() (*btfType, error) {
		spec, err := loadBTFFile(file)
		if err != nil {
			return nil, err
		}
		id, err := spec.TypeByName(name)
		if err != nil {
			return nil, fmt.Errorf("--btf %s: %w", file, err)
		}
		return newBTFType(spec, id)
	})
}

// within returns what f returns, or ctx's error as soon as ctx ends: a
// file on a hung network or FUSE mount must not hold a command past its
// --timeout or Ctrl-C. f then goes on alone and its result is dropped;
// the command is about to exit.
func within[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return zero, context.DeadlineExceeded // its timer has yet to run
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// durationFlag is a duration flag that refuses negative values: to a
// context a negative timeout is no timeout at all, and "--timeout -1s"
// would wait forever.
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 500ms, 10s or 2m")
	}
	if v < 0 {
		return errors.New("durations must not be negative")
	}
	*d = durationFlag(v)
	return nil
}

// durationVar defines a duration flag that refuses negative values.
func durationVar(fs *flag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	d := durationFlag(def)
	fs.Var(&d, name, usage)
	return (*time.Duration)(&d)
}

// fileStepError is the error of a step that read a file under ctx: the
// end of the wait when ctx ended it, err otherwise.
func fileStepError(err error, timeout time.Duration, what string) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: timed out after %v", what, timeout)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: interrupted", what)
	}
	return err
}
