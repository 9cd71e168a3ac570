package progs

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/asm"
	"github.com/bpfmaps/bpfmaps/sys"
)

// RingBufMaxData is the largest record the ringbuf writer programs write.
const RingBufMaxData = 4096

// Layout of the control value the ringbuf writers read (one array element):
// size u32, flags u32, dropped u64, the four bpf_ringbuf_query results and
// then the record bytes.
const (
	ctlSize    = 0
	ctlFlags   = 4
	ctlDropped = 8
	ctlQuery   = 16 // avail, size, cons, prod: 4 x u64
	ctlData    = 64
	ctlValue   = ctlData + RingBufMaxData
)

// RingBufWriter runs socket filters that write records into a
// BPF_MAP_TYPE_RINGBUF with bpf_ringbuf_output, or with
// bpf_ringbuf_reserve followed by bpf_ringbuf_submit or
// bpf_ringbuf_discard, taking the record's bytes, size and wake-up flags
// from a control map that Go sets, and counting failed writes there.
type RingBufWriter struct {
	ctl    *sys.FD
	output *sys.FD
	query  *sys.FD
	ring   *sys.FD // nil when writing through an array of rings
	fixed  map[[2]int]*sys.FD
	value  [ctlValue]byte
}

// NewRingBufWriter returns a writer into ring.
func NewRingBufWriter(ring *sys.FD) (*RingBufWriter, error) {
	return newRingBufWriter(ring, nil, 0)
}

// NewRingBufWriterInner returns a writer (Output only) into the ring at
// index of outer, a BPF_MAP_TYPE_ARRAY_OF_MAPS of ringbufs; a missing
// ring counts as dropped.
func NewRingBufWriterInner(outer *sys.FD, index uint32) (*RingBufWriter, error) {
	return newRingBufWriter(nil, outer, index)
}

func newRingBufWriter(ring, outer *sys.FD, index uint32) (*RingBufWriter, error) {
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: ctlValue, MaxEntries: 1}
	sys.SetName(&attr.MapName, "rb_ctl")
	ctl, err := sys.MapCreate(&attr)
	if err != nil {
		return nil, fmt.Errorf("ringbuf writer control map: %w", err)
	}
	w := &RingBufWriter{ctl: ctl, ring: ring, fixed: map[[2]int]*sys.FD{}}
	target := ring
	if outer != nil {
		target = outer
	}
	insns, err := withMaps(ctl, target, func(ctlFD, ringFD int) []asm.Insn {
		return asm.Program(
			lookupCtl(ctlFD),
			loadRing(ringFD, outer != nil, index),
			asm.Mov64Reg(asm.R1, asm.R0),
			asm.Mov64Reg(asm.R2, asm.R7), asm.Add64Imm(asm.R2, ctlData),
			asm.LdxMem(asm.W, asm.R3, asm.R7, ctlSize),
			asm.JmpImm(unix.BPF_JGT, asm.R3, RingBufMaxData, 3),
			asm.LdxMem(asm.W, asm.R4, asm.R7, ctlFlags),
			asm.Call(asm.FnRingBufOutput),
			asm.JmpImm(unix.BPF_JEQ, asm.R0, 0, 3),
			// failed: count it
			asm.Mov64Imm(asm.R1, 1),
			asm.AtomicAdd(asm.DW, asm.R7, asm.R1, ctlDropped),
			asm.Mov64Imm(asm.R0, 1),
			asm.Exit(),
		)
	})
	if err == nil {
		w.output, err = Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "rb_output", insns)
	}
	if err == nil && ring != nil {
		insns, _ = withMaps(ctl, ring, func(ctlFD, ringFD int) []asm.Insn {
			p := []any{lookupCtl(ctlFD)}
			for i, sel := range []int32{unix.BPF_RB_AVAIL_DATA, unix.BPF_RB_RING_SIZE, unix.BPF_RB_CONS_POS, unix.BPF_RB_PROD_POS} {
				p = append(p, asm.LdMapFD(asm.R1, ringFD), asm.Mov64Imm(asm.R2, sel), asm.Call(asm.FnRingBufQuery),
					asm.StxMem(asm.DW, asm.R7, asm.R0, int16(ctlQuery+8*i)))
			}
			return asm.Program(append(p, asm.Mov64Imm(asm.R0, 0), asm.Exit())...)
		})
		w.query, err = Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "rb_query", insns)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// lookupCtl leaves the control value in R7; the program returns 2 when it
// is missing (never).
func lookupCtl(ctlFD int) []asm.Insn {
	return asm.Program(
		asm.StMem(asm.W, asm.R10, -4, 0),
		asm.LdMapFD(asm.R1, ctlFD),
		asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -4),
		asm.Call(asm.FnMapLookupElem),
		asm.JmpImm(unix.BPF_JNE, asm.R0, 0, 2),
		asm.Mov64Imm(asm.R0, 2),
		asm.Exit(),
		asm.Mov64Reg(asm.R7, asm.R0),
	)
}

// loadRing leaves the ring map pointer in R0: the map itself, or the
// element index of an array of rings (counted as dropped when missing).
func loadRing(fd int, inner bool, index uint32) []asm.Insn {
	if !inner {
		return asm.LdMapFD(asm.R0, fd)
	}
	return asm.Program(
		asm.StMem(asm.W, asm.R10, -8, int32(index)),
		asm.LdMapFD(asm.R1, fd),
		asm.Mov64Reg(asm.R2, asm.R10), asm.Add64Imm(asm.R2, -8),
		asm.Call(asm.FnMapLookupElem),
		asm.JmpImm(unix.BPF_JNE, asm.R0, 0, 4),
		asm.Mov64Imm(asm.R1, 1),
		asm.AtomicAdd(asm.DW, asm.R7, asm.R1, ctlDropped),
		asm.Mov64Imm(asm.R0, 1),
		asm.Exit(),
	)
}

func withMaps(a, b *sys.FD, build func(a, b int) []asm.Insn) ([]asm.Insn, error) {
	ra, err := a.Acquire()
	if err != nil {
		return nil, err
	}
	defer a.Release()
	rb, err := b.Acquire()
	if err != nil {
		return nil, err
	}
	defer b.Release()
	return build(ra, rb), nil
}

// set stores the size, flags and bytes the next runs write.
func (w *RingBufWriter) set(size int, flags uint32, data []byte) error {
	if size < 0 || size > RingBufMaxData || len(data) > size {
		return fmt.Errorf("ringbuf writer: size %d, %d bytes of data", size, len(data))
	}
	var key uint32
	if err := sys.MapLookupElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0); err != nil {
		return err
	}
	binary.NativeEndian.PutUint32(w.value[ctlSize:], uint32(size))
	binary.NativeEndian.PutUint32(w.value[ctlFlags:], flags)
	clear(w.value[ctlData:])
	copy(w.value[ctlData:], data)
	return sys.MapUpdateElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0)
}

// Output runs bpf_ringbuf_output of data (padded with zeros to size bytes)
// with flags, repeat times, in one test run: a large repeat can end early
// with EINTR (see RunRepeated), and the ring's positions tell how many ran.
// It returns the last run's helper result (0, or a negative errno such as
// -EAGAIN when the ring was full).
func (w *RingBufWriter) Output(data []byte, size int, flags uint32, repeat int) (int32, error) {
	if err := w.set(size, flags, data); err != nil {
		return 0, err
	}
	ret, err := RunRepeated(w.output, repeat)
	return int32(ret), err
}

// Reserve runs bpf_ringbuf_reserve of size bytes (a constant in the
// program, one program per size), fills the record with data padded with
// zeros, and submits it, or discards it when discard is set, with flags,
// repeat times. It returns 1 when the last reservation failed, else 0.
func (w *RingBufWriter) Reserve(data []byte, size int, discard bool, flags uint32, repeat int) (int32, error) {
	if w.ring == nil {
		return 0, fmt.Errorf("ringbuf writer: reserve needs a ring, not an array of rings")
	}
	if err := w.set(size, flags, data); err != nil {
		return 0, err
	}
	key := [2]int{size, 0}
	if discard {
		key[1] = 1
	}
	prog := w.fixed[key]
	if prog == nil {
		insns, err := withMaps(w.ctl, w.ring, func(ctlFD, ringFD int) []asm.Insn {
			return reserveInsns(ctlFD, ringFD, size, discard)
		})
		if err == nil {
			prog, err = Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "rb_reserve", insns)
		}
		if err != nil {
			return 0, err
		}
		w.fixed[key] = prog
	}
	ret, err := Run(prog, repeat)
	return int32(ret), err
}

func reserveInsns(ctlFD, ringFD, size int, discard bool) []asm.Insn {
	p := []any{
		lookupCtl(ctlFD),
		asm.LdMapFD(asm.R1, ringFD),
		asm.Mov64Imm(asm.R2, int32(size)),
		asm.Mov64Imm(asm.R3, 0),
		asm.Call(asm.FnRingBufReserve),
		asm.JmpImm(unix.BPF_JNE, asm.R0, 0, 4),
		asm.Mov64Imm(asm.R1, 1),
		asm.AtomicAdd(asm.DW, asm.R7, asm.R1, ctlDropped),
		asm.Mov64Imm(asm.R0, 1),
		asm.Exit(),
		asm.Mov64Reg(asm.R6, asm.R0),
	}
	off := 0
	for ; off+8 <= size; off += 8 {
		p = append(p, asm.LdxMem(asm.DW, asm.R1, asm.R7, int16(ctlData+off)), asm.StxMem(asm.DW, asm.R6, asm.R1, int16(off)))
	}
	for ; off < size; off++ {
		p = append(p, asm.LdxMem(asm.B, asm.R1, asm.R7, int16(ctlData+off)), asm.StxMem(asm.B, asm.R6, asm.R1, int16(off)))
	}
	commit := int32(asm.FnRingBufSubmit)
	if discard {
		commit = asm.FnRingBufDiscard
	}
	p = append(p,
		asm.Mov64Reg(asm.R1, asm.R6),
		asm.LdxMem(asm.W, asm.R2, asm.R7, ctlFlags),
		asm.Call(commit),
		asm.Mov64Imm(asm.R0, 0),
		asm.Exit(),
	)
	return asm.Program(p...)
}

// Dropped returns how many writes failed so far.
func (w *RingBufWriter) Dropped() (uint64, error) {
	var key uint32
	if err := sys.MapLookupElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0); err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint64(w.value[ctlDropped:]), nil
}

// RingBufQuery is what bpf_ringbuf_query reports to a program.
type RingBufQuery struct{ Avail, Size, Cons, Prod uint64 }

// Query runs bpf_ringbuf_query for the four selectors in a program.
func (w *RingBufWriter) Query() (RingBufQuery, error) {
	if w.query == nil {
		return RingBufQuery{}, fmt.Errorf("ringbuf writer: query needs a ring")
	}
	if _, err := Run(w.query, 1); err != nil {
		return RingBufQuery{}, err
	}
	var key uint32
	if err := sys.MapLookupElem(w.ctl, unsafe.Pointer(&key), unsafe.Pointer(&w.value[0]), 0); err != nil {
		return RingBufQuery{}, err
	}
	q := w.value[ctlQuery:]
	return RingBufQuery{
		Avail: binary.NativeEndian.Uint64(q),
		Size:  binary.NativeEndian.Uint64(q[8:]),
		Cons:  binary.NativeEndian.Uint64(q[16:]),
		Prod:  binary.NativeEndian.Uint64(q[24:]),
	}, nil
}

// Close unloads the programs and the control map.
func (w *RingBufWriter) Close() error {
	for _, p := range w.fixed {
		p.Close()
	}
	w.output.Close()
	w.query.Close()
	return w.ctl.Close()
}
