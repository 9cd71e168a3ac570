package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

func requireRingBuf(t testing.TB) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
}

// TestMappingPermissions re-creates the selftest's mmap checks, the rules
// NewReader relies on: only the consumer page may be writable.
func TestMappingPermissions(t *testing.T) {
	requireRingBuf(t)
	page := os.Getpagesize()
	m := newRingBufMap(t, page)
	raw, err := m.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	rw := unix.PROT_READ | unix.PROT_WRITE
	mustMap := func(what string, off, length, prot int) []byte {
		t.Helper()
		b, err := unix.Mmap(raw, int64(off), length, prot, unix.MAP_SHARED)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Cleanup(func() { unix.Munmap(b) })
		return b
	}
	refused := func(what string, off, length, prot int, want error) {
		t.Helper()
		b, err := unix.Mmap(raw, int64(off), length, prot, unix.MAP_SHARED)
		if err == nil {
			unix.Munmap(b)
			t.Fatalf("%s: mapped", what)
		}
		if want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
	}
	cons := mustMap("consumer page read-write", 0, page, rw)
	if err := unix.Mprotect(cons, unix.PROT_EXEC); err == nil {
		t.Fatal("mprotect(EXEC) of the consumer page succeeded")
	}
	refused("producer page writable", page, page, unix.PROT_WRITE, unix.EPERM)
	refused("data page writable", 2*page, page, unix.PROT_WRITE, unix.EPERM)
	refused("second data view writable", 3*page, page, unix.PROT_WRITE, nil)
	refused("two data pages writable", 2*page, 2*page, unix.PROT_WRITE, nil)
	refused("consumer and producer pages writable", 0, 2*page, rw, unix.EPERM)
	refused("past the end", 0, 5*page, unix.PROT_READ, nil)
	all := mustMap("all four pages read-only", 0, 4*page, unix.PROT_READ)
	if err := unix.Mprotect(all, unix.PROT_READ|unix.PROT_WRITE); err == nil {
		t.Fatal("mprotect(WRITE) of a read-only mapping succeeded")
	}
	prod := mustMap("producer page read-only", page, page, unix.PROT_READ)
	if err := unix.Mprotect(prod, unix.PROT_READ|unix.PROT_WRITE); err == nil {
		t.Fatal("mprotect(WRITE) of the producer page succeeded")
	}
	if b, err := unix.Mmap(raw, 0, page, unix.PROT_READ, unix.MAP_PRIVATE); err == nil {
		unix.Munmap(b)
		t.Fatal("private mapping succeeded")
	}
	// The data area is mapped twice in a row.
	w, err := progs.NewRingBufWriter(m)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Output([]byte{0xab}, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
	if all[2*page+8] != 0xab || all[3*page+8] != 0xab {
		t.Fatalf("record byte: first view %#x, second view %#x", all[2*page+8], all[3*page+8])
	}
}

// TestNewReaderErrors: a map that is not a ringbuf and a closed descriptor
// are refused with clear errors; the caller's descriptor stays its own.
func TestNewReaderErrors(t *testing.T) {
	requireRingBuf(t)
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	h, err := sys.MapCreate(&attr)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := NewReader(asMap(t, h)); err == nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("NewReader(hash) = %v", err)
	} else {
		t.Log(err)
	}
	if _, err := NewReader(nil); !errors.Is(err, os.ErrInvalid) {
		t.Fatalf("NewReader(nil) = %v", err)
	}
	m := asMap(t, newRingBufMap(t, os.Getpagesize()))
	r, err := NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close()
	if _, err := m.Info(); err != nil {
		t.Fatalf("the caller's map was closed: %v", err)
	}
	m.Close()
	if _, err := NewReader(m); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("NewReader(closed) = %v", err)
	}
	if _, _, err := NewInMemory(1000); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("NewInMemory(1000) = %v", err)
	}
}

// TestPoller re-creates ringbuf_multi: rings of different sizes, one of
// them reached by the program through an array of ringbufs (slot 1 left
// empty), plus an in-memory ring, served by one Poller with a handler
// each.
func TestPoller(t *testing.T) {
	requireRingBuf(t)
	page := os.Getpagesize()
	ring1 := newRingBufMap(t, page)
	ring2 := newRingBufMap(t, 4*page)
	outerAttr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 3}
	raw1, _ := ring1.Acquire()
	outerAttr.InnerMapFD = uint32(raw1)
	outer, err := sys.MapCreate(&outerAttr)
	ring1.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	for key, ring := range map[uint32]*sys.FD{0: ring1, 2: ring2} {
		raw, _ := ring.Acquire()
		v := uint32(raw)
		err := sys.MapUpdateElem(outer, unsafe.Pointer(&key), unsafe.Pointer(&v), 0)
		ring.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	writers := make([]*progs.RingBufWriter, 3)
	for i := range writers {
		w, err := progs.NewRingBufWriterInner(outer, uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		writers[i] = w
	}
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []string
	handler := func(name string) func([]byte) error {
		return func(b []byte) error { got = append(got, fmt.Sprintf("%s:%d", name, b[0])); return nil }
	}
	if _, err := p.Add(asMap(t, ring1), handler("1")); err != nil {
		t.Fatal(err)
	}
	r1 := p.Ring(0)
	if p.Ring(1) != nil {
		t.Fatal("Ring(1) exists before the second Add")
	}
	if _, err := p.Add(asMap(t, ring2), handler("2")); err != nil {
		t.Fatal(err)
	}
	if p.Ring(0) != r1 || p.Ring(1).Size() != 4*page {
		t.Fatal("rings changed by Add")
	}
	mp, mr, err := NewInMemory(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddReader(mr, handler("mem")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(asMap(t, outer), handler("x")); err == nil {
		t.Fatal("Add(array of maps) succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, v := range []byte{33, 55, 77} {
		if _, err := writers[i].Output([]byte{v}, 8, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := writers[1].Dropped(); d != 1 {
		t.Fatalf("slot 1 skipped %d times, want 1", d)
	}
	n, err := p.Poll(ctx)
	if n != 2 || err != nil || fmt.Sprint(got) != "[1:33 2:77]" {
		t.Fatalf("Poll = %d, %v, %v", n, err, got)
	}
	if n, err := p.Consume(); n != 0 || err != nil {
		t.Fatalf("Consume after Poll = %d, %v", n, err)
	}
	// A blocked Poll is woken by the in-memory ring and by a kernel ring.
	got = nil
	go func() { time.Sleep(30 * time.Millisecond); mp.Write([]byte{5}) }()
	if n, err := p.Poll(ctx); n != 1 || err != nil || fmt.Sprint(got) != "[mem:5]" {
		t.Fatalf("Poll = %d, %v, %v", n, err, got)
	}
	got = nil
	go func() { time.Sleep(30 * time.Millisecond); writers[2].Output([]byte{9}, 8, 0, 1) }()
	if n, err := p.Poll(ctx); n != 1 || err != nil || fmt.Sprint(got) != "[2:9]" {
		t.Fatalf("Poll = %d, %v, %v", n, err, got)
	}
	// NO_WAKEUP records already there are handled without a wait; ConsumeN
	// spreads its budget over the rings in order.
	writers[0].Output([]byte{1}, 8, NoWakeup, 3)
	writers[2].Output([]byte{2}, 8, NoWakeup, 3)
	got = nil
	if n, err := p.ConsumeN(4); n != 4 || err != nil || fmt.Sprint(got) != "[1:1 1:1 1:1 2:2]" {
		t.Fatalf("ConsumeN(4) = %d, %v, %v", n, err, got)
	}
	if n, err := p.Poll(ctx); n != 2 || err != nil {
		t.Fatalf("Poll = %d, %v", n, err)
	}
	// A timeout, then Close wakes a blocked Poll.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if _, err := p.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll with nothing to read: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := p.Poll(ctx); done <- err }()
	time.Sleep(30 * time.Millisecond)
	p.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Poll after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Poll")
	}
}

// TestOpenOnNoWakeupRecords: a Reader opened on a ring that already holds
// records written with BPF_RB_NO_WAKEUP (no notification will ever come
// for them) returns them at once, and then blocks as usual.
func TestOpenOnNoWakeupRecords(t *testing.T) {
	requireRingBuf(t)
	m := newRingBufMap(t, os.Getpagesize())
	w, err := progs.NewRingBufWriter(m)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ret, err := w.Output([]byte{42}, 1, NoWakeup, 3); err != nil || ret != 0 {
		t.Fatalf("output: %d, %v", ret, err)
	}
	r, err := NewReader(asMap(t, m))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.AvailableBytes(); got != 3*16 {
		t.Fatalf("AvailableBytes = %d, want %d", got, 3*16)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		rec, err := r.Read(ctx)
		if err != nil || len(rec.Sample) != 1 || rec.Sample[0] != 42 {
			t.Fatalf("Read %d = %v, %v", i, rec.Sample, err)
		}
	}
	r.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.Read(ctx); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read of an empty ring: %v, want a deadline error", err)
	}
}
