package progs

import (
	"github.com/bpfmaps/bpfmaps/internal/asm"
	"github.com/bpfmaps/bpfmaps/sys"

	"golang.org/x/sys/unix"
)

// fnKtimeGetNS is the helper id of bpf_ktime_get_ns.
const fnKtimeGetNS = 5

// EventSize is the size of the record EmitEvent writes: struct event
// { u64 time_ns; u32 cpu; u32 len; }.
const EventSize = 16

// EmitEvent returns a socket filter that writes one EventSize record to
// the ringbuf ring each time it runs (bpf_ringbuf_output): the kernel's
// monotonic clock, the CPU it ran on and the length of the packet. It
// returns the helper's result.
func EmitEvent(ring *sys.FD) (*sys.FD, error) {
	insns, err := withMap(ring, func(fd int) []asm.Insn {
		return asm.Program(
			asm.Mov64Reg(asm.R6, asm.R1), // skb
			asm.Call(fnKtimeGetNS),
			asm.StxMem(asm.DW, asm.R10, asm.R0, -16),
			asm.Call(asm.FnGetSmpProcessorID),
			asm.StxMem(asm.W, asm.R10, asm.R0, -8),
			asm.LdxMem(asm.W, asm.R1, asm.R6, 0), // skb->len
			asm.StxMem(asm.W, asm.R10, asm.R1, -4),
			asm.LdMapFD(asm.R1, fd),
			asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -16),
			asm.Mov64Imm(asm.R3, EventSize),
			asm.Mov64Imm(asm.R4, 0),
			asm.Call(asm.FnRingBufOutput),
			asm.Exit(),
		)
	})
	if err != nil {
		return nil, err
	}
	return Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "emit_event", insns)
}

// PushTime returns a socket filter that pushes the kernel's monotonic
// clock (a u64) onto a queue or stack map each time it runs
// (bpf_map_push_elem, BPF_ANY: it fails with -E2BIG when the map is full).
// It returns the helper's result.
func PushTime(queue *sys.FD) (*sys.FD, error) {
	insns, err := withMap(queue, func(fd int) []asm.Insn {
		return asm.Program(
			asm.Call(fnKtimeGetNS),
			asm.StxMem(asm.DW, asm.R10, asm.R0, -8),
			asm.LdMapFD(asm.R1, fd),
			asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -8),
			asm.Mov64Imm(asm.R3, unix.BPF_ANY),
			asm.Call(asm.FnMapPushElem),
			asm.Exit(),
		)
	})
	if err != nil {
		return nil, err
	}
	return Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "push_time", insns)
}
