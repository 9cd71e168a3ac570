package progs

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/asm"
	"github.com/bpfmaps/bpfmaps/sys"
)

// PerfMaxData is the largest sample the perf writer writes.
const PerfMaxData = RingBufMaxData

// CurrentCPU is BPF_F_CURRENT_CPU: the index flag of
// bpf_perf_event_output that picks the running CPU's entry.
const CurrentCPU = 0xffffffff

// ctlResult holds, in the perf writer's control value, the helper's last
// result (s64).
const ctlResult = ctlQuery

// PerfWriter runs a socket filter that writes a sample into a
// BPF_MAP_TYPE_PERF_EVENT_ARRAY with bpf_perf_event_output, taking the
// sample's bytes, its size and the index flags (CurrentCPU or a CPU
// number) from a control map that Go sets, and counting failed writes
// there.
type PerfWriter struct {
	ctl   *sys.FD
	prog  *sys.FD
	value [ctlValue]byte
}

// NewPerfWriter returns a writer into the perf event array events.
func NewPerfWriter(events *sys.FD) (*PerfWriter, error) {
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: ctlValue, MaxEntries: 1}
	sys.SetName(&attr.MapName, "perf_ctl")
	ctl, err := sys.MapCreate(&attr)
	if err != nil {
		return nil, fmt.Errorf("perf writer control map: %w", err)
	}
	w := &PerfWriter{ctl: ctl}
	insns, err := withMaps(ctl, events, func(ctlFD, mapFD int) []asm.Insn {
		return asm.Program(
			asm.Mov64Reg(asm.R6, asm.R1), // the context: the helper takes it
			lookupCtl(ctlFD),
			asm.Mov64Reg(asm.R1, asm.R6),
			asm.LdMapFD(asm.R2, mapFD),
			asm.LdxMem(asm.W, asm.R3, asm.R7, ctlFlags), // zero-extended: the index flags
			asm.Mov64Reg(asm.R4, asm.R7), asm.Add64Imm(asm.R4, ctlData),
			asm.LdxMem(asm.W, asm.R5, asm.R7, ctlSize),
			asm.JmpImm(unix.BPF_JGT, asm.R5, PerfMaxData, 5),
			asm.Call(asm.FnPerfEventOutput),
			asm.StxMem(asm.DW, asm.R7, asm.R0, ctlResult),
			asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 2),
			// failed: count it
			asm.Mov64Imm(asm.R1, 1),
			asm.AtomicAdd(asm.DW, asm.R7, asm.R1, ctlDropped),
			asm.Mov64Imm(asm.R0, 0),
			asm.Exit(),
		)
	})
	if err == nil {
		w.prog, err = Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "perf_output", insns)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Output runs bpf_perf_event_output of data (padded with zeros to size
// bytes) with the index flags (CurrentCPU, or a CPU number), repeat
// times, one system call per run. It returns the last run's helper
// result (0, or a negative errno such as -ENOSPC when the ring was full).
func (w *PerfWriter) Output(data []byte, size int, flags uint32, repeat int) (int64, error) {
	if size < 0 || size > PerfMaxData || len(data) > size {
		return 0, fmt.Errorf("perf writer: size %d, %d bytes of data", size, len(data))
	}
	var key uint32
	if err := sys.MapLookupElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0); err != nil {
		return 0, err
	}
	binary.NativeEndian.PutUint32(w.value[ctlSize:], uint32(size))
	binary.NativeEndian.PutUint32(w.value[ctlFlags:], flags)
	clear(w.value[ctlData:])
	copy(w.value[ctlData:], data)
	if err := sys.MapUpdateElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0); err != nil {
		return 0, err
	}
	if _, err := Run(w.prog, repeat); err != nil {
		return 0, err
	}
	if err := sys.MapLookupElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0); err != nil {
		return 0, err
	}
	return int64(binary.NativeEndian.Uint64(w.value[ctlResult:])), nil
}

// Dropped returns how many writes failed so far.
func (w *PerfWriter) Dropped() (uint64, error) {
	var key uint32
	if err := sys.MapLookupElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0); err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint64(w.value[ctlDropped:]), nil
}

// Close unloads the program and the control map.
func (w *PerfWriter) Close() error {
	w.prog.Close()
	return w.ctl.Close()
}
