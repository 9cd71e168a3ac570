package structcodec

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// Marshaler is implemented by types with generated code (see bpfcodegen):
// MarshalBPF writes the value's C bytes to dst, which must hold at least
// SizeBPF bytes.
type Marshaler interface {
	MarshalBPF(dst []byte) error
}

// Unmarshaler is implemented by types with generated code (see bpfcodegen):
// UnmarshalBPF reads the value from its C bytes in src, which must hold at
// least SizeBPF bytes.
type Unmarshaler interface {
	UnmarshalBPF(src []byte) error
}

// Sizer is implemented by types with generated code: SizeBPF returns the C
// size the code was generated for, so that For can tell stale code from
// current code.
type Sizer interface {
	SizeBPF() int
}

type generated interface {
	Marshaler
	Unmarshaler
}

// A Codec encodes values of T to the bytes of the equivalent C object and
// back. T may be a struct (see the package documentation for its tags), a
// fixed-size integer, bool, float32, float64, or an array of those. A
// Codec is safe for concurrent use; Encode and Decode do not allocate
// (except Decode of a cstring string field whose text changed).
type Codec[T any] struct {
	l   *Layout
	gen bool // *T has generated MarshalBPF and UnmarshalBPF methods
}

var codecs sync.Map // reflect.Type -> *Codec[T]

// For returns the codec of T, compiling it on first use. When *T has
// generated MarshalBPF and UnmarshalBPF methods the codec calls them; For
// reports an error if they were generated for a different layout.
func For[T any]() (*Codec[T], error) {
	t := reflect.TypeFor[T]()
	if c, ok := codecs.Load(t); ok {
		return c.(*Codec[T]), nil
	}
	l, err := Compile(t)
	if err != nil {
		return nil, err
	}
	c := &Codec[T]{l: l}
	if _, ok := any((*T)(nil)).(generated); ok {
		c.gen = true
		if s, ok := any(new(T)).(Sizer); ok {
			if n := s.SizeBPF(); n != l.size {
				return nil, fmt.Errorf("structcodec: %s: generated code is for a %d-byte layout, the type's is %d bytes: run go generate", l.name, n, l.size)
			}
		}
	}
	got, _ := codecs.LoadOrStore(t, c)
	return got.(*Codec[T]), nil
}

// Size returns the C size of T in bytes.
func (c *Codec[T]) Size() int { return c.l.size }

// Layout returns the C layout of T.
func (c *Codec[T]) Layout() *Layout { return c.l }

// Encode writes the C bytes of *v to dst[:c.Size()]. Padding is written as
// zeros. A value that does not fit (text too long for its cstring field)
// is an error, and dst is left untouched.
func (c *Codec[T]) Encode(dst []byte, v *T) error {
	if v == nil {
		return fmt.Errorf("structcodec: encode %s: nil pointer", c.l.name)
	}
	if c.gen {
		return any(v).(Marshaler).MarshalBPF(dst)
	}
	if len(dst) < c.l.size {
		return &ShortBufferError{Op: "encode", Type: c.l.name, Len: len(dst), Need: c.l.size}
	}
	return c.l.encode(dst, unsafe.Pointer(v))
}

// Decode sets *v from the C bytes in src[:c.Size()]. It fails only when
// src is too short: any bytes decode.
func (c *Codec[T]) Decode(src []byte, v *T) error {
	if v == nil {
		return fmt.Errorf("structcodec: decode %s: nil pointer", c.l.name)
	}
	if c.gen {
		return any(v).(Unmarshaler).UnmarshalBPF(src)
	}
	if len(src) < c.l.size {
		return &ShortBufferError{Op: "decode", Type: c.l.name, Len: len(src), Need: c.l.size}
	}
	c.l.prog.decode(src, unsafe.Pointer(v))
	return nil
}

// EncodeValue writes the C bytes of v, a value of l.Type() or a pointer to
// one, to dst[:l.Size()]. It is the form of Encode for types known only at
// run time.
func (l *Layout) EncodeValue(dst []byte, v reflect.Value) error {
	p, err := l.pointer("encode", v, false)
	if err != nil {
		return err
	}
	if len(dst) < l.size {
		return &ShortBufferError{Op: "encode", Type: l.name, Len: len(dst), Need: l.size}
	}
	return l.encode(dst, p)
}

// DecodeValue sets v, an addressable value of l.Type() or a pointer to
// one, from the C bytes in src[:l.Size()].
func (l *Layout) DecodeValue(src []byte, v reflect.Value) error {
	p, err := l.pointer("decode", v, true)
	if err != nil {
		return err
	}
	if len(src) < l.size {
		return &ShortBufferError{Op: "decode", Type: l.name, Len: len(src), Need: l.size}
	}
	l.prog.decode(src, p)
	return nil
}

// pointer returns the address of the value v holds or points to.
func (l *Layout) pointer(op string, v reflect.Value, set bool) (unsafe.Pointer, error) {
	switch {
	case !v.IsValid():
		return nil, fmt.Errorf("structcodec: %s %s: no value", op, l.name)
	case v.Kind() == reflect.Pointer && v.Type().Elem() == l.typ:
		if v.IsNil() {
			return nil, fmt.Errorf("structcodec: %s %s: nil pointer", op, l.name)
		}
		return v.UnsafePointer(), nil
	case v.Type() != l.typ:
		return nil, fmt.Errorf("structcodec: %s %s: value of type %s", op, l.name, v.Type())
	case v.CanAddr():
		return v.Addr().UnsafePointer(), nil
	case set:
		return nil, fmt.Errorf("structcodec: %s %s: value is not addressable (pass a pointer)", op, l.name)
	default:
		c := reflect.New(l.typ)
		c.Elem().Set(v)
		return c.UnsafePointer(), nil
	}
}

func (l *Layout) encode(dst []byte, v unsafe.Pointer) error {
	if len(l.prog.valid) > 0 {
		if err := l.prog.check(v); err != nil {
			return err
		}
	}
	l.prog.encode(dst, v)
	return nil
}
