package structcodec

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

	// Checked reports that encoding checks the value first (a cstring
	// array must hold a NUL) and may refuse it.
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
