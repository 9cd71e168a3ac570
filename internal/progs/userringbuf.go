package progs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/asm"
	"github.com/bpfmaps/bpfmaps/sys"
)

// DrainResult is the value a UserRingBufDrain program keeps in its results
// map (key 0). The counters add up over runs.
//
// The callback reads each sample's first 8 bytes through bpf_dynptr_data
// and its last 8 bytes through bpf_dynptr_read at the offset the sample
// declares: tests write the sample's length into its first 4 bytes, so a
// sample the kernel saw whole is counted in Bytes and TailSum, and one whose
// declared length does not match is counted in Bad. Every integer is in
// host byte order, as a C program reads it.
type DrainResult struct {
	Ret     int64  // what the last bpf_user_ringbuf_drain returned
	Runs    uint64 // how many times the program ran
	Samples uint64 // samples passed to the callback
	Bytes   uint64 // sum of the declared lengths (the u32 at offset 0)
	TailSum uint64 // sum of each sample's last 8 bytes (a u64)
	First   uint64 // first 8 bytes of the last sample (a u64)
	Bad     uint64 // samples the callback could not read as declared
	StopAt  uint64 // input: the callback returns 1 once Samples reaches it (0: never)
}

// UserRingBufDrain is a socket filter that calls bpf_user_ringbuf_drain on
// a BPF_MAP_TYPE_USER_RINGBUF map each time it runs and accounts what its
// callback saw in Results.
type UserRingBufDrain struct {
	Prog    *sys.FD
	Results *sys.FD // array, 1 entry of DrainResult
}

// drainBTF describes the two functions of the drain program: main (global)
// and the callback (static, as the verifier demands).
func drainBTF() ([]byte, []btf.FuncInfo, error) {
	var b btf.Builder
	intT := b.Int("int", 4, true)
	mainProto := b.FuncProto(intT, btf.Member{Name: "skb", Type: b.Ptr(0)})
	mainFn := b.Func("urb_drain", mainProto, btf.Global)
	voidp := b.Ptr(0)
	cbProto := b.FuncProto(intT, btf.Member{Name: "dynptr", Type: voidp}, btf.Member{Name: "ctx", Type: voidp})
	cbFn := b.Func("urb_sample", cbProto, btf.Static)
	raw, err := b.Bytes()
	return raw, []btf.FuncInfo{{InsnOff: 0, TypeID: mainFn}, {TypeID: cbFn}}, err
}

// HaveUserRingBufDrain reports whether this kernel can load the drain
// program, by loading it once: besides user ring buffers (6.1), the
// callback of bpf_user_ringbuf_drain needs the JIT, since the interpreter
// refuses programs with callbacks ("callbacks are not allowed in non-JITed
// programs": kernels without CONFIG_BPF_JIT, such as Debian's s390x
// kernels, or with net.core.bpf_jit_enable=0). That answer wraps
// sys.ErrNotSupported; any other refusal is returned as it is.
func HaveUserRingBufDrain() error { return haveUserRingBufDrain() }

var haveUserRingBufDrain = sync.OnceValue(func() error {
	if err := sys.HaveUserRingBuf(); err != nil {
		return err
	}
	ring, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: uint32(os.Getpagesize())})
	if err != nil {
		return fmt.Errorf("probe user ringbuf drain program: %w", err)
	}
	defer ring.Close()
	d, err := NewUserRingBufDrain(ring, 0)
	var serr *sys.Error
	if errors.As(err, &serr) && strings.Contains(serr.Log, "callbacks are not allowed in non-JITed programs") {
		return fmt.Errorf("user ringbuf drain program: the kernel runs BPF programs without a JIT, and its interpreter refuses callbacks: %w", sys.ErrNotSupported)
	}
	if err != nil {
		return fmt.Errorf("probe user ringbuf drain program: %w", err)
	}
	return d.Close()
})

// NewUserRingBufDrain loads the drain program for ring; flags go to the
// helper as they are (BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP).
func NewUserRingBufDrain(ring *sys.FD, flags int32) (*UserRingBufDrain, error) {
	results, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4,
		ValueSize: uint32(unsafe.Sizeof(DrainResult{})), MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("user ringbuf drain: results map: %w", err)
	}
	prog, err := loadDrain(ring, results, flags)
	if err != nil {
		results.Close()
		return nil, err
	}
	return &UserRingBufDrain{Prog: prog, Results: results}, nil
}

func loadDrain(ring, results *sys.FD, flags int32) (*sys.FD, error) {
	ringFD, err := ring.Acquire()
	if err != nil {
		return nil, err
	}
	defer ring.Release()
	resFD, err := results.Acquire()
	if err != nil {
		return nil, err
	}
	defer results.Release()

	const (
		offRet, offRuns, offSamples, offBytes, offTail, offFirst, offBad, offStop = 0, 8, 16, 24, 32, 40, 48, 56
	)
	// The declared length is the u32 at offset 0, loaded as such: the low
	// half of the u64 at offset 0 is the u32 at offset 4 on a big-endian
	// machine. It is kept at fp-16 across the helper calls.
	callback := asm.Program(
		asm.Mov64Reg(asm.R6, asm.R1),      // the dynptr
		asm.Mov64Imm(asm.R7, 0),           // head
		asm.Mov64Imm(asm.R8, 0),           // tail
		asm.Mov64Imm(asm.R9, 0),           // bad
		asm.StMem(asm.W, asm.R10, -16, 0), // length
		// head := bpf_dynptr_data(dynptr, 0, 8)
		asm.Mov64Reg(asm.R1, asm.R6), asm.Mov64Imm(asm.R2, 0), asm.Mov64Imm(asm.R3, 8),
		asm.Call(asm.FnDynptrData),
		asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 13), // -> bad
		asm.LdxMem(asm.DW, asm.R7, asm.R0, 0),
		asm.LdxMem(asm.W, asm.R4, asm.R0, 0), asm.StxMem(asm.W, asm.R10, asm.R4, -16),
		// bpf_dynptr_read(fp-8, 8, dynptr, length - 8, 0)
		asm.Add64Imm(asm.R4, -8),
		asm.Mov64Reg(asm.R1, asm.R10), asm.Add64Imm(asm.R1, -8),
		asm.Mov64Imm(asm.R2, 8), asm.Mov64Reg(asm.R3, asm.R6), asm.Mov64Imm(asm.R5, 0),
		asm.Call(asm.FnDynptrRead),
		asm.JmpImm(unix.BPF_JNE, asm.R0, 0, 2), // -> bad
		asm.LdxMem(asm.DW, asm.R8, asm.R10, -8),
		asm.Ja(1),
		asm.Mov64Imm(asm.R9, 1), // bad:
		// results
		asm.StMem(asm.W, asm.R10, -12, 0),
		asm.LdMapFD(asm.R1, resFD),
		asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -12),
		asm.Call(asm.FnMapLookupElem),
		asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 13), // -> ret0
		asm.Mov64Imm(asm.R1, 1),
		asm.AtomicAdd(asm.DW, asm.R0, asm.R1, offSamples),
		asm.LdxMem(asm.W, asm.R1, asm.R10, -16),
		asm.AtomicAdd(asm.DW, asm.R0, asm.R1, offBytes),
		asm.AtomicAdd(asm.DW, asm.R0, asm.R8, offTail),
		asm.StxMem(asm.DW, asm.R0, asm.R7, offFirst),
		asm.AtomicAdd(asm.DW, asm.R0, asm.R9, offBad),
		asm.LdxMem(asm.DW, asm.R1, asm.R0, offStop),
		asm.JmpImm(unix.BPF_JEQ, asm.R1, 0, 4), // -> ret0
		asm.LdxMem(asm.DW, asm.R2, asm.R0, offSamples),
		asm.JmpReg(unix.BPF_JLT, asm.R2, asm.R1, 2), // -> ret0
		asm.Mov64Imm(asm.R0, 1),
		asm.Exit(),
		asm.Mov64Imm(asm.R0, 0), // ret0:
		asm.Exit(),
	)
	mainTail := asm.Program(
		asm.Mov64Imm(asm.R3, 0),
		asm.Mov64Imm(asm.R4, flags),
		asm.Call(asm.FnUserRingBufDrain),
		asm.Mov64Reg(asm.R7, asm.R0),
		asm.StMem(asm.W, asm.R10, -4, 0),
		asm.LdMapFD(asm.R1, resFD),
		asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -4),
		asm.Call(asm.FnMapLookupElem),
		asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 3),
		asm.StxMem(asm.DW, asm.R0, asm.R7, offRet),
		asm.Mov64Imm(asm.R1, 1),
		asm.AtomicAdd(asm.DW, asm.R0, asm.R1, offRuns),
		asm.Mov64Imm(asm.R0, 0),
		asm.Exit(),
	)
	return loadDrainProgram(ringFD, mainTail, callback)
}

// NewUserRingBufDrainFloor loads a program that calls
// bpf_user_ringbuf_drain on ring with a callback that only returns 0,
// and returns what the helper returned: the number of samples drained
// (at most 131072 per run) or a negative errno. It accounts nothing: it
// is the kernel's cost floor, for benchmarks that drain untimed.
func NewUserRingBufDrainFloor(ring *sys.FD) (*sys.FD, error) {
	ringFD, err := ring.Acquire()
	if err != nil {
		return nil, err
	}
	defer ring.Release()
	mainTail := asm.Program(
		asm.Mov64Imm(asm.R3, 0),
		asm.Mov64Imm(asm.R4, 0),
		asm.Call(asm.FnUserRingBufDrain),
		asm.Exit(),
	)
	return loadDrainProgram(ringFD, mainTail, asm.Program(asm.Mov64Imm(asm.R0, 0), asm.Exit()))
}

// loadDrainProgram loads main, which sets r1 to the ring and r2 to the
// callback and goes on with mainTail, followed by callback, with the BTF
// func_info the verifier requires for a program with a callback.
func loadDrainProgram(ringFD int, mainTail, callback []asm.Insn) (*sys.FD, error) {
	// r2 = &callback, which follows mainTail (LdFunc's offset counts from
	// its first slot).
	head := asm.LdMapFD(asm.R1, ringFD)
	insns := asm.Program(head, asm.LdFunc(asm.R2, int32(len(mainTail)+1)), mainTail, callback)
	cbStart := len(head) + 2 + len(mainTail)

	raw, infos, err := drainBTF()
	if err != nil {
		return nil, fmt.Errorf("user ringbuf drain: %w", err)
	}
	infos[1].InsnOff = uint32(cbStart)
	btfFD, err := sys.BTFLoad(raw)
	if err != nil {
		return nil, fmt.Errorf("user ringbuf drain: %w", err)
	}
	defer btfFD.Close()
	btfRaw, err := btfFD.Acquire()
	if err != nil {
		return nil, err
	}
	defer btfFD.Release()

	license := []byte("GPL\x00")
	attr := sys.ProgLoadAttr{
		ProgType:        unix.BPF_PROG_TYPE_SOCKET_FILTER,
		InsnCnt:         uint32(len(insns)),
		Insns:           unsafe.Pointer(&insns[0]),
		License:         unsafe.Pointer(&license[0]),
		ProgBTFFD:       uint32(btfRaw),
		FuncInfoRecSize: btf.FuncInfoSize,
		FuncInfo:        unsafe.Pointer(&infos[0]),
		FuncInfoCnt:     uint32(len(infos)),
	}
	sys.SetName(&attr.ProgName, "urb_drain")
	fd, err := sys.ProgLoad(&attr)
	if err != nil {
		return nil, fmt.Errorf("user ringbuf drain: load: %w", err)
	}
	return fd, nil
}

// Run runs the program once and returns the results map's value.
func (d *UserRingBufDrain) Run() (DrainResult, error) {
	if _, err := Run(d.Prog, 1); err != nil {
		return DrainResult{}, fmt.Errorf("user ringbuf drain: run: %w", err)
	}
	return d.Result()
}

// Result reads the results map.
func (d *UserRingBufDrain) Result() (DrainResult, error) {
	var key uint32
	var r DrainResult
	err := sys.MapLookupElem(d.Results, unsafe.Pointer(&key), unsafe.Pointer(&r), 0)
	return r, err
}

// SetStopAt makes the callback return 1 (stop) once the sample count
// reaches n; 0 never stops.
func (d *UserRingBufDrain) SetStopAt(n uint64) error {
	r, err := d.Result()
	if err != nil {
		return err
	}
	r.StopAt = n
	var key uint32
	return sys.MapUpdateElem(d.Results, unsafe.Pointer(&key), unsafe.Pointer(&r), unix.BPF_ANY)
}

// Close closes the program and its results map.
func (d *UserRingBufDrain) Close() error {
	err := d.Prog.Close()
	if err2 := d.Results.Close(); err == nil {
		err = err2
	}
	return err
}
