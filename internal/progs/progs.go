// Package progs holds the small hand-assembled BPF programs, run with
// BPF_PROG_TEST_RUN, that make the kernel itself write maps and rings: for
// the tests of every package, and for the demo of the bpfmaps command.
//
// It is not part of the library. The library's packages import it from
// their tests only; the one importer outside tests is cmd/bpfmaps, whose
// demo loads these programs, so the tool ships them on purpose.
// TestImporters holds the module to that. The bench module (its own
// go.mod, not part of the library) fills and drains its rings with them
// too.
package progs

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/asm"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Load loads insns as a program of the given type under a GPL license.
func Load(progType uint32, name string, insns []asm.Insn) (*sys.FD, error) {
	license := []byte("GPL\x00")
	attr := sys.ProgLoadAttr{
		ProgType: progType,
		InsnCnt:  uint32(len(insns)),
		Insns:    unsafe.Pointer(&insns[0]),
		License:  unsafe.Pointer(&license[0]),
	}
	sys.SetName(&attr.ProgName, name)
	fd, err := sys.ProgLoad(&attr)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return fd, nil
}

// packet is the smallest input a socket filter test run accepts: an
// Ethernet header's worth of bytes and some room.
var packet [64]byte

// Run runs a socket filter program repeat times (at least once) with
// BPF_PROG_TEST_RUN and returns its last return value. It runs the program
// once per system call: a run the kernel repeats itself can stop early with
// EINTR when the Go runtime signals the thread, having run an unknown
// number of times (RunRepeated is that, for when the count can be checked
// afterwards).
func Run(prog *sys.FD, repeat int) (uint32, error) {
	var ret uint32
	for range max(repeat, 1) {
		var err error
		if ret, err = RunRepeated(prog, 1); err != nil {
			return 0, err
		}
	}
	return ret, nil
}

// RunRepeated runs a socket filter program repeat times in one
// BPF_PROG_TEST_RUN, which is fast but may end early with an error
// wrapping unix.EINTR after any number of runs.
func RunRepeated(prog *sys.FD, repeat int) (uint32, error) {
	var out [len(packet)]byte
	attr := sys.TestRunAttr{
		DataSizeIn:  uint32(len(packet)),
		DataIn:      unsafe.Pointer(&packet[0]),
		DataSizeOut: uint32(len(out)),
		DataOut:     unsafe.Pointer(&out[0]),
		Repeat:      uint32(max(repeat, 1)),
	}
	if err := sys.ProgTestRun(prog, &attr); err != nil {
		return 0, err
	}
	return attr.Retval, nil
}

// withMap runs build with the raw descriptor of m held open.
func withMap(m *sys.FD, build func(fd int) []asm.Insn) ([]asm.Insn, error) {
	raw, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer m.Release()
	return build(raw), nil
}

// UpdateHash returns a socket filter that stores value under key in a map
// with 4-byte keys and 8-byte values (bpf_map_update_elem, BPF_ANY) each
// time it runs. It returns the helper's result.
func UpdateHash(m *sys.FD, key uint32, value uint64) (*sys.FD, error) {
	insns, err := withMap(m, func(fd int) []asm.Insn {
		return asm.Program(
			asm.StMem(asm.W, asm.R10, -4, int32(key)),
			asm.LdImm64(asm.R1, value),
			asm.StxMem(asm.DW, asm.R10, asm.R1, -16),
			asm.LdMapFD(asm.R1, fd),
			asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -4),
			asm.Mov64Reg(asm.R3, asm.R10), asm.Add64Imm(asm.R3, -16),
			asm.Mov64Imm(asm.R4, unix.BPF_ANY),
			asm.Call(asm.FnMapUpdateElem),
			asm.Exit(),
		)
	})
	if err != nil {
		return nil, err
	}
	return Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "update_hash", insns)
}

// Counter returns a socket filter that adds one to the 8-byte value under
// key in a map with 4-byte keys each time it runs, inserting 1 when the key
// is missing. It works on hash, array and their per-CPU kinds.
func Counter(m *sys.FD, key uint32) (*sys.FD, error) {
	insns, err := withMap(m, func(fd int) []asm.Insn {
		return asm.Program(
			asm.StMem(asm.W, asm.R10, -4, int32(key)),
			asm.LdMapFD(asm.R1, fd),
			asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -4),
			asm.Call(asm.FnMapLookupElem),
			asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 4),
			// found: atomically add one
			asm.Mov64Imm(asm.R1, 1),
			asm.AtomicAdd(asm.DW, asm.R0, asm.R1, 0),
			asm.Mov64Imm(asm.R0, 0),
			asm.Exit(),
			// missing: insert 1
			asm.StMem(asm.DW, asm.R10, -16, 1),
			asm.LdMapFD(asm.R1, fd),
			asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -4),
			asm.Mov64Reg(asm.R3, asm.R10), asm.Add64Imm(asm.R3, -16),
			asm.Mov64Imm(asm.R4, unix.BPF_NOEXIST),
			asm.Call(asm.FnMapUpdateElem),
			asm.Exit(),
		)
	})
	if err != nil {
		return nil, err
	}
	return Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "counter", insns)
}
