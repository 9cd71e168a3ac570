// Package asm encodes the handful of eBPF instructions that bpfmaps' tests
// and demo programs are written in. It is a tiny assembler, not a general
// one: only the opcodes the hand-written programs need are here.
package asm

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Insn is struct bpf_insn: opcode, dst and src registers in one byte,
// a signed 16-bit offset and a signed 32-bit immediate.
type Insn struct {
	Code uint8
	Regs uint8 // the bit fields dst_reg:4, src_reg:4 (see regs)
	Off  int16
	Imm  int32
}

// Reg is an eBPF register: R0 returns, R1-R5 carry arguments, R6-R9 survive
// calls, R10 is the read-only frame pointer.
type Reg uint8

// The eBPF registers.
const (
	R0 Reg = iota
	R1
	R2
	R3
	R4
	R5
	R6
	R7
	R8
	R9
	R10
)

// Helper ids from the UAPI enum bpf_func_id, for the helpers the test
// programs call.
const (
	FnMapLookupElem     = 1
	FnMapUpdateElem     = 2
	FnMapDeleteElem     = 3
	FnGetSmpProcessorID = 8
	FnMapPushElem       = 87
	FnPerfEventOutput   = 25
	FnRingBufOutput     = 130
	FnRingBufReserve    = 131
	FnRingBufSubmit     = 132
	FnRingBufDiscard    = 133
	FnRingBufQuery      = 134
	FnLoop              = 181
	FnDynptrRead        = 201
	FnDynptrData        = 203
	FnUserRingBufDrain  = 209
	pseudoMapFD         = 1    // BPF_PSEUDO_MAP_FD
	pseudoCall          = 1    // BPF_PSEUDO_CALL
	pseudoFunc          = 4    // BPF_PSEUDO_FUNC
	atomicMode          = 0xc0 // BPF_ATOMIC
	jmpCall             = unix.BPF_JMP | unix.BPF_CALL
	jmpExit             = unix.BPF_JMP | unix.BPF_EXIT
	ldImm64             = unix.BPF_LD | unix.BPF_DW | unix.BPF_IMM

	// InsnSize is the size of one instruction.
	InsnSize = int(unsafe.Sizeof(Insn{}))
)

// Size is a memory access width.
type Size uint8

// The access widths.
const (
	B  Size = unix.BPF_B
	H  Size = unix.BPF_H
	W  Size = unix.BPF_W
	DW Size = unix.BPF_DW
)

// bigEndian: C compilers allocate bit fields from the most significant bit
// on big-endian machines, so there dst_reg is the high nibble of the byte.
var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// regs packs the register byte as the kernel's struct bpf_insn declares it
// (dst_reg:4 first): dst in the low nibble on little-endian machines, in the
// high one on big-endian machines.
func regs(dst, src Reg) uint8 {
	if bigEndian {
		return uint8(dst)<<4 | uint8(src)&0xf
	}
	return uint8(dst)&0xf | uint8(src)<<4
}

// Mov64Imm: dst = imm.
func Mov64Imm(dst Reg, imm int32) Insn {
	return Insn{Code: unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K, Regs: regs(dst, 0), Imm: imm}
}

// Mov64Reg: dst = src.
func Mov64Reg(dst, src Reg) Insn {
	return Insn{Code: unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_X, Regs: regs(dst, src)}
}

// Add64Imm: dst += imm.
func Add64Imm(dst Reg, imm int32) Insn {
	return Insn{Code: unix.BPF_ALU64 | unix.BPF_ADD | unix.BPF_K, Regs: regs(dst, 0), Imm: imm}
}

// Add64Reg: dst += src.
func Add64Reg(dst, src Reg) Insn {
	return Insn{Code: unix.BPF_ALU64 | unix.BPF_ADD | unix.BPF_X, Regs: regs(dst, src)}
}

// And64Imm: dst &= imm.
func And64Imm(dst Reg, imm int32) Insn {
	return Insn{Code: unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K, Regs: regs(dst, 0), Imm: imm}
}

// LdImm64 loads a 64-bit constant; it takes two instruction slots.
func LdImm64(dst Reg, v uint64) []Insn {
	return []Insn{
		{Code: ldImm64, Regs: regs(dst, 0), Imm: int32(uint32(v))},
		{Imm: int32(uint32(v >> 32))},
	}
}

// LdMapFD loads a map descriptor as a map pointer; two instruction slots.
func LdMapFD(dst Reg, fd int) []Insn {
	return []Insn{
		{Code: ldImm64, Regs: regs(dst, pseudoMapFD), Imm: int32(fd)},
		{},
	}
}

// LdFunc loads the address of the subprogram that starts off+1 instructions
// after this one (BPF_PSEUDO_FUNC), for helpers that take a callback; two
// instruction slots.
func LdFunc(dst Reg, off int32) []Insn {
	return []Insn{
		{Code: ldImm64, Regs: regs(dst, pseudoFunc), Imm: off},
		{},
	}
}

// LdxMem: dst = *(size *)(src + off).
func LdxMem(size Size, dst, src Reg, off int16) Insn {
	return Insn{Code: unix.BPF_LDX | unix.BPF_MEM | uint8(size), Regs: regs(dst, src), Off: off}
}

// StxMem: *(size *)(dst + off) = src.
func StxMem(size Size, dst, src Reg, off int16) Insn {
	return Insn{Code: unix.BPF_STX | unix.BPF_MEM | uint8(size), Regs: regs(dst, src), Off: off}
}

// StMem: *(size *)(dst + off) = imm.
func StMem(size Size, dst Reg, off int16, imm int32) Insn {
	return Insn{Code: unix.BPF_ST | unix.BPF_MEM | uint8(size), Regs: regs(dst, 0), Off: off, Imm: imm}
}

// AtomicAdd: lock *(size *)(dst + off) += src, for W and DW.
func AtomicAdd(size Size, dst, src Reg, off int16) Insn {
	return Insn{Code: unix.BPF_STX | atomicMode | uint8(size), Regs: regs(dst, src), Off: off, Imm: unix.BPF_ADD}
}

// JmpImm jumps off instructions ahead when dst op imm holds; op is one of
// unix.BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, ….
func JmpImm(op uint8, dst Reg, imm int32, off int16) Insn {
	return Insn{Code: unix.BPF_JMP | op | unix.BPF_K, Regs: regs(dst, 0), Off: off, Imm: imm}
}

// JmpReg jumps off instructions ahead when dst op src holds.
func JmpReg(op uint8, dst, src Reg, off int16) Insn {
	return Insn{Code: unix.BPF_JMP | op | unix.BPF_X, Regs: regs(dst, src), Off: off}
}

// Ja jumps off instructions ahead unconditionally.
func Ja(off int16) Insn { return Insn{Code: unix.BPF_JMP | unix.BPF_JA, Off: off} }

// Call calls a helper by id.
func Call(helper int32) Insn { return Insn{Code: jmpCall, Imm: helper} }

// CallSub calls the subprogram that starts off+1 instructions after this
// one (BPF_PSEUDO_CALL).
func CallSub(off int32) Insn { return Insn{Code: jmpCall, Regs: regs(0, pseudoCall), Imm: off} }

// Exit returns R0.
func Exit() Insn { return Insn{Code: jmpExit} }

// Program flattens instructions and instruction groups (such as LdImm64's
// two slots) into one program.
func Program(parts ...any) []Insn {
	var out []Insn
	for _, p := range parts {
		switch v := p.(type) {
		case Insn:
			out = append(out, v)
		case []Insn:
			out = append(out, v...)
		default:
			panic("asm.Program: want Insn or []Insn")
		}
	}
	return out
}
