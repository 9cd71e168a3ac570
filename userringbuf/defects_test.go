package userringbuf

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestSecondProducerRefused: a second live Producer of the same map in
// this process, through the same or another descriptor, is refused with
// EBUSY; once the first is closed, a new one is accepted. A Producer of
// another map is not affected.
func TestSecondProducerRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveUserRingbuf)
	m := newUserRingbuf(t, page)
	first, err := NewProducer(m)
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Dup()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, fd := range map[string]*sys.FD{"same descriptor": m, "duplicate descriptor": other} {
		if p, err := NewProducer(fd); !errors.Is(err, unix.EBUSY) {
			if p != nil {
				p.Close()
			}
			t.Errorf("second producer through the %s: %v, want EBUSY", name, err)
		}
	}
	elsewhere, err := NewProducer(newUserRingbuf(t, page))
	if err != nil {
		t.Fatalf("producer of another map: %v", err)
	}
	elsewhere.Close()
	first.Close()
	again, err := NewProducer(other)
	if err != nil {
		t.Fatalf("producer after the first was closed: %v", err)
	}
	again.Close()
}
