package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// The kernel side of the ring fixtures: two tiny hand-assembled socket
// filters run with BPF_PROG_TEST_RUN, so that the kernel itself fills a
// BPF_MAP_TYPE_RINGBUF and drains a BPF_MAP_TYPE_USER_RINGBUF while no
// peer is being timed. The same program descriptors are handed to the
// libbpf peer, so every peer's ring is filled and drained the same way.

// insn is struct bpf_insn.
type insn struct {
	code uint8
	regs uint8 // dst in the low nibble, src in the high one
	off  int16
	imm  int32
}

const (
	fnRingbufReserve   = 131
	fnRingbufSubmit    = 132
	fnUserRingbufDrain = 209
	pseudoMapFD        = 1
	pseudoFunc         = 4
)

func movImm(dst uint8, imm int32) insn {
	return insn{code: unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K, regs: dst, imm: imm}
}

func movReg(dst, src uint8) insn {
	return insn{code: unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_X, regs: dst | src<<4}
}

func ldMapFD(dst uint8, fd int) []insn {
	return []insn{{code: unix.BPF_LD | unix.BPF_DW | unix.BPF_IMM, regs: dst | pseudoMapFD<<4, imm: int32(fd)}, {}}
}

func call(fn int32) insn { return insn{code: unix.BPF_JMP | unix.BPF_CALL, imm: fn} }

func exit() insn { return insn{code: unix.BPF_JMP | unix.BPF_EXIT} }

// loadProg loads a socket filter under a GPL license, with BTF func_info
// when btf is set.
func loadProg(name string, insns []insn, btf []byte, funcInfo []uint32) (*sys.FD, error) {
	license := []byte("GPL\x00")
	attr := sys.ProgLoadAttr{
		ProgType: unix.BPF_PROG_TYPE_SOCKET_FILTER,
		InsnCnt:  uint32(len(insns)),
		Insns:    unsafe.Pointer(&insns[0]),
		License:  unsafe.Pointer(&license[0]),
	}
	if btf != nil {
		btfFD, err := sys.BTFLoad(btf)
		if err != nil {
			return nil, fmt.Errorf("load %s: BTF: %w", name, err)
		}
		defer btfFD.Close()
		attr.ProgBTFFD = uint32(btfFD.Int())
		attr.FuncInfoRecSize = 8
		attr.FuncInfo = unsafe.Pointer(&funcInfo[0])
		attr.FuncInfoCnt = uint32(len(funcInfo) / 2)
	}
	sys.SetName(&attr.ProgName, name)
	fd, err := sys.ProgLoad(&attr)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return fd, nil
}

// newRingFill loads a program that reserves one record of size bytes in
// ring, writes every 8-byte word of it and submits it with
// the default wake-up (the kernel notifies epoll when the consumer had
// caught up, that is, for the first record of a fill); it returns 1 when
// the ring was full. With BPF_RB_NO_WAKEUP, cilium/ebpf's Reader, which
// waits in epoll before it looks at the ring, would wait for a record
// that is already there.
func newRingFill(ring *sys.FD, size int) (*sys.FD, error) {
	p := ldMapFD(1, ring.Int())
	p = append(p,
		movImm(2, int32(size)),
		movImm(3, 0),
		call(fnRingbufReserve),
		insn{code: unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K, regs: 0, off: 2},
		movImm(0, 1),
		exit(),
	)
	for off := 0; off < size; off += 8 {
		p = append(p, insn{code: unix.BPF_ST | unix.BPF_MEM | unix.BPF_DW, regs: 0, off: int16(off), imm: int32(off + 1)})
	}
	p = append(p,
		movReg(1, 0),
		movImm(2, 0),
		call(fnRingbufSubmit),
		movImm(0, 0),
		exit(),
	)
	return loadProg(fmt.Sprintf("fill%d", size), p, nil, nil)
}

// newUserRingDrain loads a program that calls bpf_user_ringbuf_drain on
// ring with a callback that only returns 0, and returns what the helper
// returned: the number of samples drained (at most 131072 per run), or a
// negative errno.
func newUserRingDrain(ring *sys.FD) (*sys.FD, error) {
	p := ldMapFD(1, ring.Int())
	// r2 = &callback: BPF_PSEUDO_FUNC's immediate counts instructions from
	// the one after its first slot.
	p = append(p,
		insn{code: unix.BPF_LD | unix.BPF_DW | unix.BPF_IMM, regs: 2 | pseudoFunc<<4, imm: 5}, insn{},
		movImm(3, 0),
		movImm(4, 0),
		call(fnUserRingbufDrain),
		exit(),
		// the callback
		movImm(0, 0),
		exit(),
	)
	callback := len(p) - 2
	return loadProg("urb_drain", p, drainBTF(), []uint32{0, 4, uint32(callback), 6})
}

// drainBTF is the BTF the verifier requires for a program with a callback:
// int type (1), void * (2), the main function's prototype (3) and the
// function (4, global), the callback's prototype (5) and the callback
// (6, static).
func drainBTF() []byte {
	strs := "\x00int\x00ctx\x00urb_drain\x00dynptr\x00urb_cb\x00"
	name := func(s string) uint32 {
		for i := 0; i+len(s) < len(strs); i++ {
			if strs[i:i+len(s)] == s && strs[i+len(s)] == 0 && (i == 0 || strs[i-1] == 0) {
				return uint32(i)
			}
		}
		panic(s)
	}
	const (
		kindInt, kindPtr, kindFunc, kindFuncProto = 1, 2, 12, 13
	)
	info := func(kind, vlen uint32) uint32 { return kind<<24 | vlen }
	types := []uint32{
		name("int"), info(kindInt, 0), 4, 1<<24 | 32, // 1: signed 32-bit int
		0, info(kindPtr, 0), 0, // 2: void *
		0, info(kindFuncProto, 1), 1, name("ctx"), 2, // 3: int (void *ctx)
		name("urb_drain"), info(kindFunc, 1), 3, // 4: global
		0, info(kindFuncProto, 2), 1, name("dynptr"), 2, name("ctx"), 2, // 5: int (void *dynptr, void *ctx)
		name("urb_cb"), info(kindFunc, 0), 5, // 6: static
	}
	const hdrLen = 24
	typeLen := uint32(4 * len(types))
	b := binary.NativeEndian.AppendUint16(nil, 0xeb9f)
	b = append(b, 1, 0) // version 1, no flags
	for _, v := range []uint32{hdrLen, 0, typeLen, typeLen, uint32(len(strs))} {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	for _, v := range types {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	return append(b, strs...)
}

// packet is the input of a socket filter test run: an Ethernet header's
// worth of bytes and some room.
var packet [64]byte

// testRun runs prog repeat times in one BPF_PROG_TEST_RUN and returns the
// last run's return value. A long run can stop early with EINTR (the Go
// runtime's preemption signal) after any number of repeats; callers that
// repeat check what happened in the ring.
func testRun(prog *sys.FD, repeat int) (int32, error) {
	var out [len(packet)]byte
	attr := sys.TestRunAttr{
		DataSizeIn:  uint32(len(packet)),
		DataIn:      unsafe.Pointer(&packet[0]),
		DataSizeOut: uint32(len(out)),
		DataOut:     unsafe.Pointer(&out[0]),
		Repeat:      uint32(max(repeat, 1)),
	}
	err := sys.ProgTestRun(prog, &attr)
	return int32(attr.Retval), err
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
