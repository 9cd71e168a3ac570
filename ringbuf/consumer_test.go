package ringbuf

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestSecondReaderRefused: a second live Reader of the same map in this
// process, through the same or another descriptor (or a Poller), is
// refused with EBUSY; before, both were accepted and every record was
// delivered twice (2000 reads of 1000 records). Once the first is closed,
// a new one is accepted. A Reader of another map is not affected.
func TestSecondReaderRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingbuf)
	m := newRingbufMap(t, 1<<16)
	first, err := NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Dup()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, fd := range map[string]*sys.FD{"same descriptor": m, "duplicate descriptor": other} {
		if r, err := NewReader(fd); !errors.Is(err, unix.EBUSY) {
			if r != nil {
				r.Close()
			}
			t.Errorf("second reader through the %s: %v, want EBUSY", name, err)
		}
	}
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(m, func([]byte) error { return nil }); !errors.Is(err, unix.EBUSY) {
		t.Errorf("Poller.Add of a ring with a Reader: %v, want EBUSY", err)
	}
	p.Close()
	elsewhere, err := NewReader(newRingbufMap(t, 1<<16))
	if err != nil {
		t.Fatalf("reader of another map: %v", err)
	}
	elsewhere.Close()

	// The first Reader alone gets each record once.
	w, err := progs.NewRingbufWriter(m)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ret, err := w.Output([]byte{1}, 8, 0, 1000); err != nil || ret != 0 {
		t.Fatalf("write 1000 records: %d, %v", ret, err)
	}
	n, err := first.Consume(func([]byte) error { return nil })
	if n != 1000 || err != nil {
		t.Fatalf("Consume: %d, %v; want 1000 records", n, err)
	}
	first.Close()
	again, err := NewReader(other)
	if err != nil {
		t.Fatalf("reader after the first was closed: %v", err)
	}
	defer again.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if rec, err := again.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the next Reader read %v, %v: a record delivered twice", rec, err)
	}
}
