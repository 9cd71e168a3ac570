package ringbuf

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// passFD returns a duplicate of m as an *os.File, for a child process.
func passFD(t *testing.T, m *sys.FD) *os.File {
	t.Helper()
	raw, err := unix.Dup(m.Int())
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(raw), "ring")
	t.Cleanup(func() { f.Close() })
	return f
}

// TestUnprivilegedReader: a process without any capability that holds a
// read-write descriptor of a ring (from a 0666 pin, or passed to it) can
// read it: the map exists, so its type is supported, and the mappings
// and epoll need no privilege. Before, NewReader probed the kernel by
// creating a throwaway ring and failed with "new reader: probe map type
// ringbuf: map create: operation not permitted".
func TestUnprivilegedReader(t *testing.T) {
	if testutil.Unprivileged() {
		m, err := sys.NewFD(3)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		r, err := NewReader(asMap(t, m))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := range 3 {
			rec, err := r.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := recordNumber(t, rec.Sample); got != i {
				t.Fatalf("record %d, want %d", got, i)
			}
		}
		return
	}
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	m := newRingBufMap(t, 1<<16)
	w, err := progs.NewRingBufWriter(m)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fillNumbered(t, w, 0, 3)
	testutil.RunUnprivileged(t, t.Name(), []*os.File{passFD(t, m)})
	q, err := w.Query()
	if err != nil || q.Cons != q.Prod {
		t.Fatalf("after the unprivileged reader: %+v, %v; want the three records consumed", q, err)
	}
}

// TestReadOnlyDescriptor: a Reader over a descriptor opened read-only (or
// write-only) is refused with an error that says a consumer needs a
// read-write descriptor, not only "permission denied": the consumer, not
// the kernel, writes the consumer position.
func TestReadOnlyDescriptor(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	m := newRingBufMap(t, 1<<16)
	info, err := sys.MapGetInfo(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []uint32{unix.BPF_F_RDONLY, unix.BPF_F_WRONLY} {
		fd, err := sys.MapGetFDByID(info.ID, flag)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(asMap(t, fd))
		fd.Close()
		if err == nil {
			r.Close()
			t.Fatalf("NewReader over a descriptor opened with flags %#x succeeded", flag)
		}
		if !errors.Is(err, unix.EACCES) || !strings.Contains(err.Error(), "needs a read-write descriptor") {
			t.Errorf("NewReader over a descriptor opened with flags %#x: %v; want EACCES saying a read-write descriptor is needed", flag, err)
		}
	}
	r, err := NewReader(asMap(t, m)) // the claim was released
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}
