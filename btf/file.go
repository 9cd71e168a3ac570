package btf

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxFileSize bounds every file this package reads. The largest BTF in
// practice is a kernel's (about 6 MB for vmlinux) or a BPF object of tens
// of MB; a larger file is refused before it is read.
const MaxFileSize = 256 << 20

// A RefusedError is the reason a file is not read at all: it is not a
// regular file (a device such as /dev/zero never ends, a FIFO blocks until
// a writer comes) or it is larger than MaxFileSize. The loaders return it
// inside an *fs.PathError that names the file.
type RefusedError struct {
	Reason string // "a FIFO, not a regular file", "300000000 bytes, larger than 256 MiB"
}

// Error returns the reason, as the *fs.PathError around it prints it
// after the file name.
func (e *RefusedError) Error() string { return e.Reason }

// LoadFile parses the BTF in a file: an ELF object's .BTF section (what
// clang -g -target bpf writes), raw BTF such as /sys/kernel/btf/vmlinux,
// or a module's split BTF under /sys/kernel/btf (on top of vmlinux).
// Only regular files of at most MaxFileSize bytes are read; every error is
// an *fs.PathError naming path.
func LoadFile(path string) (*Spec, error) {
	raw, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var spec *Spec
	dir, file := filepath.Split(filepath.Clean(path))
	switch {
	case bytes.HasPrefix(raw, []byte("\x7fELF")):
		spec, err = LoadELF(bytes.NewReader(raw))
	case filepath.Clean(dir) == KernelDir && file != "vmlinux":
		var vmlinux *Spec
		if vmlinux, err = LoadKernel(); err == nil {
			spec, err = ParseSplit(raw, vmlinux)
		}
	default:
		spec, err = Parse(raw)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "load btf", Path: path, Err: err}
	}
	return spec, nil
}

// readFile returns the contents of the regular file at path, of at most
// MaxFileSize bytes; anything else is refused before the first read.
func readFile(path string) ([]byte, error) {
	fail := func(err error) error {
		if pe, ok := err.(*fs.PathError); ok {
			err = pe.Err
		}
		return &fs.PathError{Op: "load btf", Path: path, Err: err}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fail(err)
	}
	if err := checkFile(fi); err != nil {
		return nil, fail(err)
	}
	// O_NONBLOCK: should path have become a FIFO since the Stat, the open
	// returns at once and the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fail(err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fail(err)
	}
	if err := checkFile(fi); err != nil {
		return nil, fail(err)
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, fail(err)
	}
	if buf.Len() > MaxFileSize { // it grew since the Stat
		return nil, fail(&RefusedError{fmt.Sprintf("larger than %d MiB, the most that is read", MaxFileSize>>20)})
	}
	return buf.Bytes(), nil
}

// checkFile refuses what readFile does not read.
func checkFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &RefusedError{fileKind(fi.Mode()) + ", not a regular file (only regular files are read)"}
	}
	if fi.Size() > MaxFileSize {
		return &RefusedError{fmt.Sprintf("%d bytes, larger than %d MiB, the most that is read", fi.Size(), MaxFileSize>>20)}
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
