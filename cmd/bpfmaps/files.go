package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/cmd/internal/mapbtf"
)

// maxFileSize bounds every file the tool reads because a flag named it
// (--btf). The largest a user names in practice is a kernel's BTF (about
// 6 MB for vmlinux) or a BPF object of tens of MB; anything larger is
// refused before it is read.
const maxFileSize = 256 << 20

// filesHelp is what --help says about files named by flags.
const filesHelp = `A file named by --btf must be a regular file of at most 256 MiB (devices,
FIFOs and sockets are refused); under --timeout, reading and parsing it
count towards the timeout.`

// readArgFile returns the contents of the file at path, which the flag
// named on the command line. Only regular files of at most maxFileSize
// bytes are read: a device such as /dev/zero never ends and a FIFO blocks
// until a writer comes, so both are refused before the first read.
func readArgFile(flag, path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fileErr(flag, path, err)
	}
	if err := checkArgFile(flag, path, fi); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should path have become a FIFO since the Stat, the open
	// returns at once and the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fileErr(flag, path, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fileErr(flag, path, err)
	}
	if err := checkArgFile(flag, path, fi); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFileSize+1)); err != nil {
		return nil, fileErr(flag, path, err)
	}
	if buf.Len() > maxFileSize { // it grew since the Stat
		return nil, usageError{fmt.Sprintf("%s %s: larger than %d MiB, the most bpfmaps reads", flag, path, maxFileSize>>20)}
	}
	return buf.Bytes(), nil
}

// checkArgFile refuses what readArgFile does not read.
func checkArgFile(flag, path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return usageError{fmt.Sprintf("%s %s: %s, not a regular file (bpfmaps reads only regular files)", flag, path, fileKind(fi.Mode()))}
	}
	if fi.Size() > maxFileSize {
		return usageError{fmt.Sprintf("%s %s: %d bytes, larger than %d MiB, the most bpfmaps reads", flag, path, fi.Size(), maxFileSize>>20)}
	}
	return nil
}

// fileKind names the kind of a file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}

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
func loadBTFFile(path string) (*btf.Spec, error) {
	raw, err := readArgFile("--btf", path)
	if err != nil {
		return nil, err
	}
	var spec *btf.Spec
	dir, file := filepath.Split(filepath.Clean(path))
	switch {
	case bytes.HasPrefix(raw, []byte("\x7fELF")):
		spec, err = btf.LoadELF(bytes.NewReader(raw))
	case filepath.Clean(dir) == btf.KernelDir && file != "vmlinux":
		var vmlinux *btf.Spec
		if vmlinux, err = btf.LoadKernel(); err == nil {
			spec, err = btf.ParseSplit(raw, vmlinux)
		}
	default:
		spec, err = btf.Parse(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("--btf %s: %w", path, err)
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
		id, err := mapbtf.Lookup(spec, name)
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
