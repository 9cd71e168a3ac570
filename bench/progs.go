package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/asm"
	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/sys"
)

// The kernel side of the ring fixtures: two tiny socket filters, assembled
// with the module's internal/asm and internal/progs, run with
// BPF_PROG_TEST_RUN, so that the kernel itself fills a
// BPF_MAP_TYPE_RINGBUF and drains a BPF_MAP_TYPE_USER_RINGBUF while no
// peer is being timed. The same program descriptors are handed to the
// libbpf peer, so every peer's ring is filled and drained the same way.

// newRingFill loads a program that reserves one record of size bytes in
// ring, writes every 8-byte word of it and submits it with
// the default wake-up (the kernel notifies epoll when the consumer had
// caught up, that is, for the first record of a fill); it returns 1 when
// the ring was full. With BPF_RB_NO_WAKEUP, cilium/ebpf's Reader, which
// waits in epoll before it looks at the ring, would wait for a record
// that is already there.
func newRingFill(ring *sys.FD, size int) (*sys.FD, error) {
	raw, err := ring.Acquire()
	if err != nil {
		return nil, err
	}
	defer ring.Release()
	p := asm.Program(
		asm.LdMapFD(asm.R1, raw),
		asm.Mov64Imm(asm.R2, int32(size)),
		asm.Mov64Imm(asm.R3, 0),
		asm.Call(asm.FnRingBufReserve),
		asm.JmpImm(unix.BPF_JNE, asm.R0, 0, 2),
		asm.Mov64Imm(asm.R0, 1),
		asm.Exit(),
	)
	for off := 0; off < size; off += 8 {
		p = append(p, asm.StMem(asm.DW, asm.R0, int16(off), int32(off+1)))
	}
	p = append(p,
		asm.Mov64Reg(asm.R1, asm.R0),
		asm.Mov64Imm(asm.R2, 0),
		asm.Call(asm.FnRingBufSubmit),
		asm.Mov64Imm(asm.R0, 0),
		asm.Exit(),
	)
	return progs.Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, fmt.Sprintf("fill%d", size), p)
}

// newUserRingDrain loads a program that calls bpf_user_ringbuf_drain on
// ring with a callback that only returns 0, and returns what the helper
// returned: the number of samples drained (at most 131072 per run), or a
// negative errno.
func newUserRingDrain(ring *sys.FD) (*sys.FD, error) { return progs.NewUserRingBufDrainFloor(ring) }

// testRun runs prog repeat times in one BPF_PROG_TEST_RUN and returns the
// last run's return value. A long run can stop early with EINTR (the Go
// runtime's preemption signal) after any number of repeats; callers that
// repeat check what happened in the ring.
func testRun(prog *sys.FD, repeat int) (int32, error) {
	ret, err := progs.RunRepeated(prog, repeat)
	return int32(ret), err
}

// fillRing makes the kernel write records with prog until avail (the bytes
// of records in the ring) reaches want records of rec bytes each.
func fillRing(prog *sys.FD, avail func() int, rec, want int) error {
	for {
		have := avail() / rec
		if have >= want {
			return nil
		}
		ret, err := testRun(prog, want-have)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("fill ring: %w", err)
		}
		if err == nil && ret != 0 {
			return fmt.Errorf("fill ring: ring full after %d of %d records", avail()/rec, want)
		}
	}
}

// drainUserRing runs the drain program until the ring is empty.
func drainUserRing(prog *sys.FD) (int, error) {
	total := 0
	for {
		n, err := testRun(prog, 1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return total, fmt.Errorf("drain user ring: %w", err)
		}
		if n < 0 {
			return total, fmt.Errorf("drain user ring: %w", unix.Errno(-n))
		}
		if err == nil && n == 0 {
			return total, nil
		}
		total += int(n)
	}
}
