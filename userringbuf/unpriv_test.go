package userringbuf

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestUnprivilegedProducer: a process without any capability that holds
// a read-write descriptor of a user ring (from a 0666 pin, or passed to
// it) can produce into it: the map exists, so its type is supported.
// Before, NewProducer probed the kernel by creating a throwaway ring and
// failed with "map create: operation not permitted".
func TestUnprivilegedProducer(t *testing.T) {
	if testutil.Unprivileged() {
		m, err := sys.NewFD(3)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		p, err := NewProducer(asMap(t, m))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		sample := make([]byte, 16)
		binary.NativeEndian.PutUint32(sample, 16)
		binary.NativeEndian.PutUint64(sample[8:], 7)
		if err := p.Write(sample); err != nil {
			t.Fatal(err)
		}
		return
	}
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, progs.HaveUserRingBufDrain)
	m := newUserRingBuf(t, page)
	d, err := progs.NewUserRingBufDrain(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw, err := unix.Dup(m.Int())
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(raw), "ring")
	defer f.Close()
	testutil.RunUnprivileged(t, t.Name(), []*os.File{f})
	r, err := d.Run()
	if err != nil || r.Samples != 1 || r.TailSum != 7 || r.Bad != 0 {
		t.Fatalf("drain after the unprivileged producer: %+v, %v; want its one sample", r, err)
	}
}

// TestReadOnlyDescriptor: a Producer over a descriptor opened read-only
// (or write-only) is refused with an error that says a producer needs a
// read-write descriptor, not only "permission denied".
func TestReadOnlyDescriptor(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveUserRingBuf)
	m := newUserRingBuf(t, page)
	info, err := sys.MapGetInfo(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []uint32{unix.BPF_F_RDONLY, unix.BPF_F_WRONLY} {
		fd, err := sys.MapGetFDByID(info.ID, flag)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewProducer(asMap(t, fd))
		fd.Close()
		if err == nil {
			p.Close()
			t.Fatalf("NewProducer over a descriptor opened with flags %#x succeeded", flag)
		}
		if !errors.Is(err, unix.EACCES) || !strings.Contains(err.Error(), "needs a read-write descriptor") {
			t.Errorf("NewProducer over a descriptor opened with flags %#x: %v; want EACCES saying a read-write descriptor is needed", flag, err)
		}
	}
	p, err := NewProducer(asMap(t, m)) // the claim was released
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}
