package structcodec

import (
	"fmt"
	"reflect"
)

// A Plan says, as plain data, how the C bytes of a type relate to its Go
// memory, for code that moves values to and from the kernel without
// calling the codec. Calling Encode or Decode converts the value to an
// interface, which moves it to the heap; code on a hot path that follows
// the plan itself keeps its values on the stack (package mapops does, to
// allocate nothing per operation).
//
// Only types whose Go memory puts every field where C does have a plan
// worth following (InPlace); for the others the lists are empty and the
// codec is the way.
type Plan struct {
	// Size is the C size in bytes.
	Size int

	// InPlace reports that the Go value is Size bytes with every field at
	// its C offset. Then a value's C bytes are its Go memory, copied
	// whole, with the Zeros spans cleared and the Swaps spans
	// byte-reversed; and C bytes copied over a value's memory make that
	// value once the Swaps spans are byte-reversed and every byte of the
	// Bools spans that is not 0 is made 1.
	InPlace bool

	Swaps []Span // big-endian integers, one span per integer
	Zeros []Span // padding and blank fields: zero in C, anything in Go
	Bools []Span // bools: the kernel's byte may be anything, Go needs 0 or 1

	// Checked reports that encoding checks the value first (text must
	// fit its string field, a cstring,nul array must hold a NUL) and may
	// refuse it.
	Checked bool
}

// A Span is Len bytes at offset Off.
type Span struct{ Off, Len int }

// Raw reports whether a value's Go memory is exactly its C bytes, both
// ways: the kernel may read and write it directly.
func (p *Plan) Raw() bool {
	return p.InPlace && !p.Checked && len(p.Swaps)+len(p.Zeros)+len(p.Bools) == 0
}

// Overlay reports whether C bytes copied over a value's Go memory make the
// value once its Bools are fixed: the kernel may write a lookup straight
// into it.
func (p *Plan) Overlay() bool { return p.InPlace && len(p.Swaps) == 0 }

// Plan returns the plan of the layout's type. The slices are the caller's.
func (l *Layout) Plan() Plan {
	p := Plan{Size: l.size, Checked: len(l.prog.valid) > 0}
	if l.prog.whole == 0 {
		return p
	}
	p.InPlace = true
	p.Swaps = exportSpans(l.prog.swaps)
	p.Zeros = exportSpans(l.prog.zeros)
	for _, b := range l.prog.bools {
		p.Bools = append(p.Bools, Span{int(b.goOff), b.n})
	}
	return p
}

func exportSpans(s []span) []Span {
	out := make([]Span, len(s))
	for i, x := range s {
		out[i] = Span{x.off, x.n}
	}
	return out
}

// RawError reports why a value's Go memory is not exactly its C bytes
// (why Plan().Raw() is false), naming the first field that is the cause,
// for callers that need the raw form, such as an overlay of mapped map
// memory; it returns nil when the plan is raw.
func (l *Layout) RawError() error {
	p := l.Plan()
	if p.Raw() {
		return nil
	}
	if why := l.notRaw(l.name, 0); why != "" {
		return &FieldError{Op: "overlay", Field: l.name, Reason: why}
	}
	return &FieldError{Op: "overlay", Field: l.name,
		Reason: fmt.Sprintf("Go memory of %d bytes differs from the %d C bytes", l.typ.Size(), l.size)}
}

// notRaw returns why the value of l at C offset off, named path, is not
// its C bytes, or "" if it is.
func (l *Layout) notRaw(path string, off int) string {
	switch {
	case l.typ.Kind() == reflect.String:
		return fmt.Sprintf("%s is a string: its C bytes are text, its Go memory a pointer and a length", path)
	case l.typ.Kind() == reflect.Bool:
		return fmt.Sprintf("%s is a bool: C may hold any byte there, Go only 0 or 1", path)
	case l.elem != nil:
		if l.n > 0 {
			return l.elem.notRaw(path+"[0]", off)
		}
		return ""
	case l.typ.Kind() != reflect.Struct:
		return ""
	}
	end := 0
	fields := l.fields
	for i := range l.typ.NumField() {
		sf := l.typ.Field(i)
		if len(fields) == 0 || fields[0].Index != i {
			if sf.Type.Size() > 0 && sf.Type != packedType {
				return fmt.Sprintf(`%s.%s is skipped (bpf:"-"): its Go memory is not in the C bytes`, path, sf.Name)
			}
			continue
		}
		f := &fields[0]
		fields = fields[1:]
		fpath := path + "." + f.Name
		switch {
		case f.Offset > end:
			return fmt.Sprintf("%d bytes of padding before %s (C offset %d): they encode as zeros, not as Go memory", f.Offset-end, fpath, off+f.Offset)
		case f.goOffset != uintptr(f.Offset):
			return fmt.Sprintf("%s is at offset %d in C but %d in Go", fpath, f.Offset, f.goOffset)
		case f.Name == "_":
			return fmt.Sprintf("blank field %s (C offset %d, %d bytes) is not encoded: it encodes as zeros, not as Go memory; name the field", fpath, off+f.Offset, f.Size)
		case f.BigEndian && scalarSize(f.Layout) > 1 && f.Size > 0 && !hostBigEndian:
			return fmt.Sprintf(`%s is big-endian (bpf:"be"): its bytes are swapped`, fpath)
		case f.NUL:
			return fmt.Sprintf(`%s is a cstring with nul: encoding checks it for a NUL`, fpath)
		}
		if why := f.Layout.notRaw(fpath, off+f.Offset); why != "" {
			return why
		}
		end = f.Offset + f.Size
	}
	if l.size > end {
		return fmt.Sprintf("%d bytes of padding at the end of %s (C offset %d): they encode as zeros, not as Go memory", l.size-end, path, off+end)
	}
	return ""
}

// scalarSize returns the size of the scalars l is made of, through arrays.
func scalarSize(l *Layout) int {
	for l.elem != nil {
		l = l.elem
	}
	return l.size
}
