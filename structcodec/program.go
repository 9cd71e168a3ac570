package structcodec

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"reflect"
	"strings"
	"unsafe"
)

// A program encodes and decodes one layout between Go memory and C bytes.
// It is compiled from the layout once; running it uses neither reflection
// nor allocation. Where Go puts every field where C does, it is a single
// copy (and a byte swap in place for each big-endian field).
type program struct {
	valid []op   // encode, first: strings and nul arrays that must fit, in field order
	ops   []op   // both directions, in C offset order
	bools []op   // decode, last: bytes > 1 become 1
	zeros []span // encode, last: padding and blank fields become 0

	// When Go places every field where C does, whole > 0: the value is
	// copied as one block of whole bytes and swaps then turns big-endian
	// fields around in place (in dst when encoding, in Go memory when
	// decoding); ops is not used.
	whole   int
	swaps   []span // off, n: one big-endian integer of n bytes
	skipped bool   // Go memory holds fields left out of the layout

	// When every check is of a cstring array, onlyArrays is set and nuls
	// lists them compactly (Go offset, length) for a tight loop.
	onlyArrays bool
	nuls       []span
}

type opcode uint8

const (
	opCopy    opcode = iota // n bytes as they are
	opSwap16                // n big-endian 16-bit integers
	opSwap32                // n big-endian 32-bit integers
	opSwap64                // n big-endian 64-bit integers
	opString                // a cstring string of n bytes (with nul: n-1 and a NUL)
	opRepeat                // n elements of sub
	opBarrier               // compile time only: a skipped Go field, copies must not merge across it
	opCheck                 // validation: a cstring,nul array of n bytes must hold a NUL
)

type op struct {
	code     opcode
	goOff    uintptr
	cOff     int
	n        int
	goStride uintptr
	cStride  int
	sub      *program
	field    string // for errors
	nul      bool   // opString: the text must leave room for a NUL
}

type span struct{ off, n int }

var hostBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

func compileProgram(l *Layout) program {
	var p program
	p.emit(l, false, false, l.name, 0, 0)
	p.finish(l.size)
	p.onlyArrays = true
	for _, o := range p.valid {
		p.onlyArrays = p.onlyArrays && o.code == opCheck
		p.nuls = append(p.nuls, span{int(o.goOff), o.n})
	}
	if l.size > 0 && int(l.typ.Size()) == l.size && !p.skipped {
		var f flat
		if f.add(&p, 0) {
			p.whole, p.swaps, p.zeros, p.bools = l.size, f.swaps, f.zeros, f.bools
		}
	}
	return p
}

// flat is a program without ops: a copy, then swaps, zeros and bool fixes
// at fixed offsets.
type flat struct {
	swaps, zeros []span
	bools        []op
}

// add adds the fixes of p, a program at C offset base, if every op has the
// same offset in Go and C and needs no more than a copy and a byte swap in
// place; it reports false if not, or if the fixes grow too many.
func (f *flat) add(p *program, base int) bool {
	for _, z := range p.zeros {
		f.zeros = append(f.zeros, span{base + z.off, z.n})
	}
	for _, b := range p.bools {
		f.bools = append(f.bools, op{goOff: uintptr(base) + b.goOff, n: b.n})
	}
	for i := range p.ops {
		o := &p.ops[i]
		if uintptr(o.cOff) != o.goOff {
			return false
		}
		width := map[opcode]int{opSwap16: 2, opSwap32: 4, opSwap64: 8}[o.code]
		switch o.code {
		case opCopy:
		case opSwap16, opSwap32, opSwap64:
			for k := range o.n {
				f.swaps = append(f.swaps, span{base + o.cOff + k*width, width})
			}
		case opRepeat:
			if uintptr(o.cStride) != o.goStride {
				return false
			}
			for k := range o.n {
				if !f.add(o.sub, base+o.cOff+k*o.cStride) {
					return false
				}
			}
		default:
			return false
		}
		if len(f.swaps)+len(f.zeros)+len(f.bools) > 64 {
			return false
		}
	}
	return true
}

// swapBytes turns the integers at swaps in b from host to big-endian order;
// b may have any alignment.
func swapBytes(b []byte, swaps []span) {
	for _, s := range swaps {
		d := b[s.off : s.off+s.n]
		switch s.n {
		case 2:
			binary.BigEndian.PutUint16(d, binary.NativeEndian.Uint16(d))
		case 4:
			binary.BigEndian.PutUint32(d, binary.NativeEndian.Uint32(d))
		case 8:
			binary.BigEndian.PutUint64(d, binary.NativeEndian.Uint64(d))
		}
	}
}

// swapInPlace turns the big-endian integers at swaps in Go memory (where
// every field is aligned) around.
func swapInPlace(b unsafe.Pointer, swaps []span) {
	for _, s := range swaps {
		p := unsafe.Add(b, s.off)
		switch s.n {
		case 2:
			*(*uint16)(p) = bits.ReverseBytes16(*(*uint16)(p))
		case 4:
			*(*uint32)(p) = bits.ReverseBytes32(*(*uint32)(p))
		case 8:
			*(*uint64)(p) = bits.ReverseBytes64(*(*uint64)(p))
		}
	}
}

// emit appends the ops for a value of layout l at goOff in Go memory and
// cOff in the C bytes; nul asks for room for a NUL terminator in text.
func (p *program) emit(l *Layout, be, nul bool, field string, goOff uintptr, cOff int) {
	switch {
	case l.typ.Kind() == reflect.String:
		o := op{code: opString, goOff: goOff, cOff: cOff, n: l.size, field: field, nul: nul}
		p.ops = append(p.ops, o)
		p.valid = append(p.valid, o)
	case l.typ.Kind() == reflect.Struct:
		fields := l.fields
		for i := range l.typ.NumField() {
			if len(fields) > 0 && fields[0].Index == i {
				f := &fields[0]
				fields = fields[1:]
				if f.Name != "_" { // blank fields are zeroed as padding
					p.emit(f.Layout, f.BigEndian, f.NUL, field+"."+f.Name, goOff+f.goOffset, cOff+f.Offset)
				}
				continue
			}
			// A Go field left out of the C layout, blank or not, must not
			// be overwritten by a merged or whole copy: it may hold
			// pointers, and the C bytes come from whoever writes the map.
			if sf := l.typ.Field(i); sf.Type.Size() > 0 {
				p.ops = append(p.ops, op{code: opBarrier, goOff: goOff + sf.Offset})
			}
		}
	case l.elem != nil && l.elem.elem == nil && l.elem.typ.Kind() != reflect.Struct:
		p.scalar(l.elem, be, nul, field, goOff, cOff, l.n)
	case l.elem != nil:
		var sub program
		sub.emit(l.elem, be, nul, field+"[]", 0, 0)
		sub.finish(l.elem.size)
		e := l.elem
		if len(sub.ops) == 1 && sub.ops[0] == (op{code: opCopy, n: e.size}) && int(e.typ.Size()) == e.size && !sub.skipped &&
			len(sub.valid)+len(sub.bools)+len(sub.zeros) == 0 {
			p.ops = append(p.ops, op{code: opCopy, goOff: goOff, cOff: cOff, n: e.size * l.n})
		} else if l.n > 0 && e.size > 0 {
			o := op{code: opRepeat, goOff: goOff, cOff: cOff, n: l.n,
				goStride: e.typ.Size(), cStride: e.size, sub: &sub, field: field}
			p.ops = append(p.ops, o)
			if len(sub.valid) > 0 {
				p.valid = append(p.valid, o)
			}
		}
	default:
		p.scalar(l, be, nul, field, goOff, cOff, 1)
	}
}

// scalar emits n consecutive scalars of layout l.
func (p *program) scalar(l *Layout, be, nul bool, field string, goOff uintptr, cOff, n int) {
	if n == 0 {
		return
	}
	switch {
	case be && !hostBigEndian && l.size == 2:
		p.ops = append(p.ops, op{code: opSwap16, goOff: goOff, cOff: cOff, n: n})
	case be && !hostBigEndian && l.size == 4:
		p.ops = append(p.ops, op{code: opSwap32, goOff: goOff, cOff: cOff, n: n})
	case be && !hostBigEndian && l.size == 8:
		p.ops = append(p.ops, op{code: opSwap64, goOff: goOff, cOff: cOff, n: n})
	default:
		p.ops = append(p.ops, op{code: opCopy, goOff: goOff, cOff: cOff, n: n * l.size})
	}
	if l.typ.Kind() == reflect.Bool {
		p.bools = append(p.bools, op{goOff: goOff, n: n})
	}
	if nul {
		p.valid = append(p.valid, op{code: opCheck, goOff: goOff, n: n, field: field})
	}
}

// finish merges copies that are contiguous in both memories (or separated
// by the same gap in both, a gap of padding that the zero pass clears
// again), drops barriers and computes the padding of a size-byte value.
func (p *program) finish(size int) {
	var ops []op
	end := 0 // of the C bytes covered so far; ops come in C order
	for _, o := range p.ops {
		if o.code != opBarrier {
			n := o.n
			switch o.code {
			case opSwap16:
				n *= 2
			case opSwap32:
				n *= 4
			case opSwap64:
				n *= 8
			case opRepeat:
				n *= o.cStride
			}
			if o.cOff > end {
				p.zeros = append(p.zeros, span{end, o.cOff - end})
			}
			end = o.cOff + n
		}
		if k := len(ops) - 1; k >= 0 && o.code == opCopy && ops[k].code == opCopy &&
			o.cOff >= ops[k].cOff+ops[k].n && uintptr(o.cOff-ops[k].cOff) == o.goOff-ops[k].goOff {
			ops[k].n = o.cOff + o.n - ops[k].cOff
			continue
		}
		ops = append(ops, o)
	}
	if size > end {
		p.zeros = append(p.zeros, span{end, size - end})
	}
	p.ops = ops[:0]
	for _, o := range ops {
		p.skipped = p.skipped || o.code == opBarrier || o.code == opRepeat && o.sub.skipped
		if o.code != opBarrier {
			p.ops = append(p.ops, o)
		}
	}
}

// check reports the first value that does not fit its field.
func (p *program) check(base unsafe.Pointer) error {
	if p.onlyArrays {
		for _, s := range p.nuls {
			if !hasNUL(unsafe.Slice((*byte)(unsafe.Add(base, s.off)), s.n)) {
				return p.unterminated(s)
			}
		}
		return nil
	}
	for i := range p.valid {
		o := &p.valid[i]
		src := unsafe.Add(base, o.goOff)
		switch o.code {
		case opCheck:
			if !hasNUL(unsafe.Slice((*byte)(src), o.n)) {
				return UnterminatedError(o.field, o.n)
			}
		case opString:
			s := *(*string)(src)
			if len(s) > o.n || o.nul && len(s) == o.n {
				return StringTooLongError(o.field, len(s), o.n)
			}
			if i := strings.IndexByte(s, 0); i >= 0 {
				return StringNULError(o.field, i)
			}
		case opRepeat:
			for k := range o.n {
				if err := o.sub.check(unsafe.Add(src, uintptr(k)*o.goStride)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (p *program) unterminated(s span) error {
	for _, o := range p.valid {
		if o.goOff == uintptr(s.off) {
			return UnterminatedError(o.field, o.n)
		}
	}
	return UnterminatedError("?", s.n)
}

// hasNUL reports whether b holds a zero byte. C strings in map keys and
// values are short: eight bytes at a time (a word has a zero byte when
// (w - 0x01…01) &^ w & 0x80…80 is not zero) beats bytes.IndexByte's
// vector set-up there.
func hasNUL(b []byte) bool {
	if len(b) > 64 {
		return bytes.IndexByte(b, 0) >= 0
	}
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		w := binary.NativeEndian.Uint64(b)
		if (w-lo)&^w&hi != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}

// encode writes the C bytes; check must have passed.
func (p *program) encode(dst []byte, base unsafe.Pointer) {
	if p.whole > 0 {
		d := dst[:p.whole]
		copy(d, unsafe.Slice((*byte)(base), p.whole))
		swapBytes(d, p.swaps)
		for _, z := range p.zeros {
			clear(d[z.off : z.off+z.n])
		}
		return
	}
	for i := range p.ops {
		o := &p.ops[i]
		src := unsafe.Add(base, o.goOff)
		switch o.code {
		case opCopy:
			copy(dst[o.cOff:o.cOff+o.n], unsafe.Slice((*byte)(src), o.n))
		case opSwap16:
			d := dst[o.cOff : o.cOff+2*o.n]
			for k, v := range unsafe.Slice((*uint16)(src), o.n) {
				binary.BigEndian.PutUint16(d[2*k:], v)
			}
		case opSwap32:
			d := dst[o.cOff : o.cOff+4*o.n]
			for k, v := range unsafe.Slice((*uint32)(src), o.n) {
				binary.BigEndian.PutUint32(d[4*k:], v)
			}
		case opSwap64:
			d := dst[o.cOff : o.cOff+8*o.n]
			for k, v := range unsafe.Slice((*uint64)(src), o.n) {
				binary.BigEndian.PutUint64(d[8*k:], v)
			}
		case opString:
			d := dst[o.cOff : o.cOff+o.n]
			clear(d[copy(d, *(*string)(src)):])
		case opRepeat:
			for k := range o.n {
				o.sub.encode(dst[o.cOff+k*o.cStride:], unsafe.Add(src, uintptr(k)*o.goStride))
			}
		}
	}
	for _, z := range p.zeros {
		clear(dst[z.off : z.off+z.n])
	}
}

func (p *program) decode(src []byte, base unsafe.Pointer) {
	if p.whole > 0 {
		copy(unsafe.Slice((*byte)(base), p.whole), src[:p.whole])
		swapInPlace(base, p.swaps)
		p.fixBools(base)
		return
	}
	for i := range p.ops {
		o := &p.ops[i]
		dst := unsafe.Add(base, o.goOff)
		switch o.code {
		case opCopy:
			copy(unsafe.Slice((*byte)(dst), o.n), src[o.cOff:o.cOff+o.n])
		case opSwap16:
			s := src[o.cOff : o.cOff+2*o.n]
			for k := range o.n {
				*(*uint16)(unsafe.Add(dst, 2*k)) = binary.BigEndian.Uint16(s[2*k:])
			}
		case opSwap32:
			s := src[o.cOff : o.cOff+4*o.n]
			for k := range o.n {
				*(*uint32)(unsafe.Add(dst, 4*k)) = binary.BigEndian.Uint32(s[4*k:])
			}
		case opSwap64:
			s := src[o.cOff : o.cOff+8*o.n]
			for k := range o.n {
				*(*uint64)(unsafe.Add(dst, 8*k)) = binary.BigEndian.Uint64(s[8*k:])
			}
		case opString:
			b := src[o.cOff : o.cOff+o.n]
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			if sp := (*string)(dst); *sp != string(b) {
				*sp = string(b)
			}
		case opRepeat:
			for k := range o.n {
				o.sub.decode(src[o.cOff+k*o.cStride:], unsafe.Add(dst, uintptr(k)*o.goStride))
			}
		}
	}
	p.fixBools(base)
}

// fixBools makes every decoded bool 0 or 1, as Go requires.
func (p *program) fixBools(base unsafe.Pointer) {
	for i := range p.bools {
		b := &p.bools[i]
		for k, v := range unsafe.Slice((*byte)(unsafe.Add(base, b.goOff)), b.n) {
			if v > 1 {
				*(*byte)(unsafe.Add(base, b.goOff+uintptr(k))) = 1
			}
		}
	}
}
