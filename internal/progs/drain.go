package progs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/asm"
	"github.com/bpfmaps/bpfmaps/sys"
)

// DrainSum returns a socket filter that drains the user ringbuf ring with
// bpf_user_ringbuf_drain each time it runs. Its callback reads the first 8
// bytes of every sample as a u64 and adds it to sums[0]; after the drain
// the program adds the number of samples drained (the helper's result) to
// sums[1]. sums must be an array with 4-byte keys, 8-byte values and at
// least 2 entries. Samples shorter than 8 bytes are consumed and not summed.
//
// The helper takes a callback, so the program is loaded with the BTF
// func_info the verifier insists on.
func DrainSum(ring, sums *sys.FD) (*sys.FD, error) {
	ringFD, err := ring.Acquire()
	if err != nil {
		return nil, err
	}
	defer ring.Release()
	sumsFD, err := sums.Acquire()
	if err != nil {
		return nil, err
	}
	defer sums.Release()

	main := func(cbOff int32) []asm.Insn {
		return asm.Program(
			asm.LdMapFD(asm.R1, ringFD),
			asm.LdFunc(asm.R2, cbOff),
			asm.Mov64Imm(asm.R3, 0),
			asm.Mov64Imm(asm.R4, 0),
			asm.Call(asm.FnUserRingbufDrain),
			asm.Mov64Reg(asm.R6, asm.R0),
			asm.StMem(asm.W, asm.R10, -4, 1),
			asm.LdMapFD(asm.R1, sumsFD),
			asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -4),
			asm.Call(asm.FnMapLookupElem),
			asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 1),
			asm.AtomicAdd(asm.DW, asm.R0, asm.R6, 0),
			asm.Mov64Imm(asm.R0, 0),
			asm.Exit(),
		)
	}
	callback := asm.Program(
		asm.Mov64Reg(asm.R3, asm.R1), // the sample's dynptr
		asm.Mov64Reg(asm.R1, asm.R10), asm.Add64Imm(asm.R1, -8),
		asm.Mov64Imm(asm.R2, 8),
		asm.Mov64Imm(asm.R4, 0),
		asm.Mov64Imm(asm.R5, 0),
		asm.Call(asm.FnDynptrRead),
		asm.JmpImm(unix.BPF_JNE, asm.R0, 0, 9),
		asm.LdxMem(asm.DW, asm.R6, asm.R10, -8),
		asm.StMem(asm.W, asm.R10, -12, 0),
		asm.LdMapFD(asm.R1, sumsFD),
		asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -12),
		asm.Call(asm.FnMapLookupElem),
		asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 1),
		asm.AtomicAdd(asm.DW, asm.R0, asm.R6, 0),
		asm.Mov64Imm(asm.R0, 0),
		asm.Exit(),
	)
	// The LdFunc sits at instruction 2 of main: the callback starts
	// len(main) instructions in, that is len(main)-2-1 after it.
	n := len(main(0))
	insns := append(main(int32(n-3)), callback...)

	btf, err := sys.BTFLoad(callbackBTF())
	if err != nil {
		return nil, fmt.Errorf("load drain_sum BTF: %w", err)
	}
	defer btf.Close()
	btfFD, err := btf.Acquire()
	if err != nil {
		return nil, err
	}
	defer btf.Release()
	funcInfo := []uint32{0, btfMainFunc, uint32(n), btfCallbackFunc} // {insn_off, type_id} pairs
	license := []byte("GPL\x00")
	attr := sys.ProgLoadAttr{
		ProgType:        unix.BPF_PROG_TYPE_SOCKET_FILTER,
		InsnCnt:         uint32(len(insns)),
		Insns:           unsafe.Pointer(&insns[0]),
		License:         unsafe.Pointer(&license[0]),
		ProgBTFFD:       uint32(btfFD),
		FuncInfoRecSize: 8,
		FuncInfo:        unsafe.Pointer(&funcInfo[0]),
		FuncInfoCnt:     2,
	}
	sys.SetName(&attr.ProgName, "drain_sum")
	fd, err := sys.ProgLoad(&attr)
	if err != nil {
		return nil, fmt.Errorf("load drain_sum: %w", err)
	}
	return fd, nil
}

// The BTF type ids of callbackBTF.
const (
	btfInt          = 1 // int
	btfVoidPtr      = 2 // void *
	btfMainProto    = 3 // int (void *ctx)
	btfCallbackType = 4 // int (void *dynptr, void *ctx)
	btfMainFunc     = 5 // main, global
	btfCallbackFunc = 6 // callback, static (the verifier requires it)
)

// callbackBTF is the smallest BTF that describes a program with one
// callback subprogram: the types above, and their names.
func callbackBTF() []byte {
	const (
		kindInt, kindPtr, kindFunc, kindFuncProto = 1, 2, 12, 13
		linkageStatic, linkageGlobal              = 0, 1
	)
	strs := []byte("\x00int\x00ctx\x00dynptr\x00main\x00callback\x00")
	name := func(s string) uint32 { return uint32(bytes.Index(strs, []byte("\x00"+s+"\x00")) + 1) }
	info := func(kind, vlen uint32) uint32 { return kind<<24 | vlen }
	types := []uint32{
		name("int"), info(kindInt, 0), 4, 1<<24 | 32, // signed, 32 bits
		0, info(kindPtr, 0), 0,
		0, info(kindFuncProto, 1), btfInt, name("ctx"), btfVoidPtr,
		0, info(kindFuncProto, 2), btfInt, name("dynptr"), btfVoidPtr, name("ctx"), btfVoidPtr,
		name("main"), info(kindFunc, linkageGlobal), btfMainProto,
		name("callback"), info(kindFunc, linkageStatic), btfCallbackType,
	}
	var buf bytes.Buffer
	typeLen := uint32(4 * len(types))
	binary.Write(&buf, binary.LittleEndian, struct {
		Magic                            uint16
		Version, Flags                   uint8
		HdrLen, TypeOff, TypeLen, StrOff uint32
		StrLen                           uint32
	}{0xeB9F, 1, 0, 24, 0, typeLen, typeLen, uint32(len(strs))})
	binary.Write(&buf, binary.LittleEndian, types)
	buf.Write(strs)
	return buf.Bytes()
}
