package perf

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// overrun fills a one-page ring with 64-byte samples through write (200
// writes, returning whether each fitted), drains it, writes one more and
// returns how many fitted and the lost record read after the drain.
func overrun(t *testing.T, r *Reader, write func() bool) (fitted int, lost Record) {
	t.Helper()
	for range 200 {
		if write() {
			fitted++
		}
	}
	var rec Record
	for n := 0; ; n++ {
		err := r.ReadInto(drained(), &rec)
		if errors.Is(err, context.Canceled) {
			if n != fitted {
				t.Fatalf("read %d samples, %d fitted", n, fitted)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !write() {
		t.Fatal("write after the drain did not fit")
	}
	if err := r.ReadInto(drained(), &lost); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadInto(drained(), &rec); err != nil || len(rec.RawSample) != paddedLen(64) {
		t.Fatalf("after the lost record: %+v, %v", rec, err)
	}
	return fitted, lost
}

// TestInMemoryOverrunLikeKernel holds the Producer against the kernel:
// the same one-page ring takes the same number of 64-byte samples, and
// the lost record after the drain counts the rest.
func TestInMemoryOverrunLikeKernel(t *testing.T) {
	testutil.CheckLeaks(t)
	page := os.Getpagesize()
	p, mr, err := NewInMemory(1, page)
	if err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	memFitted, memLost := overrun(t, mr, func() bool { return p.Output(0, make([]byte, 64)) == nil })
	if memLost.LostSamples != uint64(200-memFitted) || memLost.CPU != 0 || mr.Lost() != memLost.LostSamples {
		t.Fatalf("in memory: %d fitted, lost record %+v, Lost %d", memFitted, memLost, mr.Lost())
	}
	if err := p.Output(0, make([]byte, page)); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("sample larger than the ring: %v", err)
	}
	if err := p.Output(1, nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("cpu out of range: %v", err)
	}
	if err := p.Output(0, make([]byte, 1<<16)); !errors.Is(err, unix.E2BIG) {
		t.Fatalf("sample beyond a record's 64 KiB: %v", err)
	}

	m := newArray(t, 0)
	kr := newReader(t, m, RingSize(page))
	w := newWriter(t, m)
	onCPU(t, kr.CPUs()[0])
	kFitted, kLost := overrun(t, kr, func() bool {
		ret, err := w.Output(make([]byte, 64), 64, progs.CurrentCPU, 1)
		if err != nil {
			t.Fatal(err)
		}
		return ret == 0
	})
	if kFitted != memFitted || kLost.LostSamples != memLost.LostSamples {
		t.Fatalf("kernel: %d fitted, %d lost; in memory: %d fitted, %d lost", kFitted, kLost.LostSamples, memFitted, memLost.LostSamples)
	}
}

// TestInMemoryWakeAndClose: a Read asleep on an in-memory Reader is woken
// by Output, and another by Close.
func TestInMemoryWakeAndClose(t *testing.T) {
	testutil.CheckLeaks(t)
	p, r, err := NewInMemory(2, os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		rec, err := r.Read(context.Background())
		if err == nil && (rec.CPU != 1 || !sameSample(rec.RawSample, []byte("hi"))) {
			err = errors.New("wrong record")
		}
		done <- err
	}()
	waitSleeping(t, r)
	if err := p.Output(1, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := r.Read(context.Background())
		done <- err
	}()
	waitSleeping(t, r)
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("read woken by Close: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Close did not wake the read within a second")
	}
	if _, _, err := NewInMemory(0, os.Getpagesize()); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("0 CPUs: %v", err)
	}
	if _, _, err := NewInMemory(1, 100); !errors.Is(err, ErrRingSize) {
		t.Fatalf("size 100: %v", err)
	}
}
