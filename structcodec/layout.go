package structcodec

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Packed marks a struct for packed layout, like C's
// __attribute__((packed)): its fields follow each other with no padding
// and the struct's alignment is 1. Add it as a blank field, best the first:
//
//	type Header struct {
//		_    structcodec.Packed
//		Kind uint8
//		Len  uint32 // at offset 1
//	}
type Packed struct{}

var packedType = reflect.TypeFor[Packed]()

// A Layout is the C layout of a Go type: its size, alignment and, for a
// struct, where each field goes. Compile builds it; a Layout is immutable
// and safe for concurrent use.
type Layout struct {
	typ    reflect.Type
	name   string // for errors: the type's name, or its kind
	size   int
	align  int
	packed bool
	fields []Field // structs
	elem   *Layout // arrays
	n      int     // arrays: length
	prog   program
}

// A Field is one field of a struct's C layout.
type Field struct {
	Name      string       // the Go field's name ("_" for blank fields, which encode as zeros)
	Index     int          // index of the field in the Go struct, for reflect.Value.Field
	Offset    int          // byte offset in the C struct
	Size      int          // C size in bytes
	Type      reflect.Type // the Go field's type
	BigEndian bool         // tag "be": integers in network byte order
	CString   bool         // tag "cstring": NUL-padded text
	NUL       bool         // tag "nul" (with cstring): the text must leave room for a NUL terminator
	Layout    *Layout      // the layout of Type (before BigEndian and CString apply)

	goOffset uintptr
}

// Type returns the Go type the layout describes.
func (l *Layout) Type() reflect.Type { return l.typ }

// Size returns the C size in bytes, sizeof in C.
func (l *Layout) Size() int { return l.size }

// Align returns the C alignment in bytes, _Alignof in C.
func (l *Layout) Align() int { return l.align }

// Packed reports whether the struct has the Packed marker.
func (l *Layout) Packed() bool { return l.packed }

// Fields returns the fields of a struct in order, without skipped fields
// and the Packed marker; nil for other kinds. The caller must not modify
// the slice.
func (l *Layout) Fields() []Field { return l.fields }

// Elem returns the layout of an array's element, nil for other kinds.
func (l *Layout) Elem() *Layout { return l.elem }

// Len returns an array's length, 0 for other kinds.
func (l *Layout) Len() int { return l.n }

type compiled struct {
	l   *Layout
	err error
}

var layouts sync.Map // reflect.Type -> compiled

// Compile returns the C layout of t, or an error naming the first field
// that has none. Layouts are cached: each type is compiled once.
func Compile(t reflect.Type) (*Layout, error) {
	if t == nil {
		return nil, &FieldError{Field: "<nil>", Reason: "no type"}
	}
	if c, ok := layouts.Load(t); ok {
		return c.(compiled).l, c.(compiled).err
	}
	l, err := build(t, typeName(t))
	c, _ := layouts.LoadOrStore(t, compiled{l, err})
	return c.(compiled).l, c.(compiled).err
}

func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	if t.Kind() == reflect.Struct {
		return "struct"
	}
	return t.String()
}

// maxSize bounds every offset and size, so that no sum or product of them
// overflows an int: a BPF map value is at most a few MiB, far below it.
const maxSize = math.MaxInt32

// pastMax is the reason given for an offset or size past maxSize; what
// says which one.
func pastMax(format string, args ...any) string {
	return fmt.Sprintf(format, args...) + fmt.Sprintf(" is past %d (math.MaxInt32), the largest offset or size a BPF value can have", maxSize)
}

// build computes the layout of t; path names t in errors.
func build(t reflect.Type, path string) (*Layout, error) {
	l := &Layout{typ: t, name: path}
	switch k := t.Kind(); k {
	case reflect.Bool, reflect.Int8, reflect.Uint8, reflect.Int16, reflect.Uint16,
		reflect.Int32, reflect.Uint32, reflect.Int64, reflect.Uint64, reflect.Float32, reflect.Float64:
		l.size, l.align = int(t.Size()), int(t.Size())
	case reflect.Array:
		e, err := build(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		if t.Len() > 0 && e.size > maxSize/t.Len() {
			return nil, &FieldError{Field: path, Reason: pastMax("an array of %d elements of %d bytes", t.Len(), e.size)}
		}
		l.elem, l.n = e, t.Len()
		l.size, l.align = e.size*t.Len(), e.align
	case reflect.Struct:
		if err := buildStruct(l, t, path); err != nil {
			return nil, err
		}
	default:
		return nil, &FieldError{Field: path, Reason: unsupported(t)}
	}
	l.prog = compileProgram(l)
	return l, nil
}

func unsupported(t reflect.Type) string {
	why := map[reflect.Kind]string{
		reflect.Int:           "its size depends on the platform; use int32 or int64",
		reflect.Uint:          "its size depends on the platform; use uint32 or uint64",
		reflect.Uintptr:       "its size depends on the platform; use uint64",
		reflect.Pointer:       "pointers have no C layout",
		reflect.UnsafePointer: "pointers have no C layout",
		reflect.Slice:         "slices have no fixed size; use an array",
		reflect.Map:           "maps have no C layout",
		reflect.Interface:     "interfaces have no C layout",
		reflect.Chan:          "channels have no C layout",
		reflect.Func:          "funcs have no C layout",
		reflect.Complex64:     "complex numbers have no C layout here",
		reflect.Complex128:    "complex numbers have no C layout here",
		reflect.String:        `an unsized string; give it a size: bpf:"cstring,size=N"`,
	}[t.Kind()]
	return fmt.Sprintf("unsupported kind %s (%s)", t, why)
}

// tagOptions is a parsed `bpf:"..."` tag.
type tagOptions struct {
	skip, be, cstring, nul bool
	offset, size           int // -1 when not given
}

func parseTag(tag string) (tagOptions, error) {
	o := tagOptions{offset: -1, size: -1}
	if tag == "" {
		return o, nil
	}
	if tag == "-" {
		o.skip = true
		return o, nil
	}
	seen := map[string]bool{}
	for _, opt := range strings.Split(tag, ",") {
		opt = strings.TrimSpace(opt)
		key, val, hasVal := strings.Cut(opt, "=")
		if opt != "" && seen[key] {
			return o, fmt.Errorf("tag %q gives option %s twice", tag, key)
		}
		seen[key] = true
		switch {
		case opt == "":
			// An empty option, as in bpf:",be": encoding/json users write
			// the name that bpf tags do not have.
		case opt == "be":
			o.be = true
		case opt == "cstring":
			o.cstring = true
		case opt == "nul":
			o.nul = true
		case hasVal && (key == "offset" || key == "size"):
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || (key == "size" && n == 0) {
				return o, fmt.Errorf("bad tag option %q: want %s=N with N a non-negative integer", opt, key)
			}
			if n > maxSize {
				return o, errors.New(pastMax("%s=%d", key, n))
			}
			if key == "offset" {
				o.offset = n
			} else {
				o.size = n
			}
		case opt == "-":
			return o, fmt.Errorf(`bad tag %q: "-" skips a field and takes no other option`, tag)
		default:
			return o, fmt.Errorf("unknown tag option %q (known: -, be, cstring, nul, offset=N, size=N)", opt)
		}
	}
	return o, nil
}

func buildStruct(l *Layout, t reflect.Type, path string) error {
	for i := range t.NumField() {
		if t.Field(i).Type == packedType {
			l.packed = true
		}
	}
	l.align = 1
	end := 0
	prev := ""
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Type == packedType {
			continue
		}
		fpath := path + "." + sf.Name
		opts, err := parseTag(sf.Tag.Get("bpf"))
		if err != nil {
			return &FieldError{Field: fpath, Reason: err.Error()}
		}
		if opts.skip {
			continue
		}
		fl, err := buildField(sf.Type, opts, fpath)
		if err != nil {
			return err
		}
		align := fl.align
		if l.packed {
			align = 1
		}
		off := AlignUp(end, align)
		if opts.offset >= 0 {
			switch {
			case opts.offset < end:
				return &FieldError{Field: fpath, Reason: fmt.Sprintf("offset=%d overlaps %s, which ends at %d", opts.offset, prev, end)}
			case opts.offset%align != 0:
				return &FieldError{Field: fpath, Reason: fmt.Sprintf("offset=%d is not a multiple of the field's alignment %d (a C compiler cannot place it there unless the struct is packed)", opts.offset, align)}
			}
			off = opts.offset
		}
		l.fields = append(l.fields, Field{
			Name: sf.Name, Index: i, Offset: off, Size: fl.size, Type: sf.Type,
			BigEndian: opts.be, CString: opts.cstring, NUL: opts.nul, Layout: fl, goOffset: sf.Offset,
		})
		if off > maxSize-fl.size { // off and fl.size are each at most maxSize
			return &FieldError{Field: fpath, Reason: pastMax("the end of a field of %d bytes at offset %d", fl.size, off)}
		}
		end = off + fl.size
		prev = sf.Name
		l.align = max(l.align, align)
	}
	if l.size = AlignUp(end, l.align); l.size > maxSize {
		return &FieldError{Field: path, Reason: pastMax("the struct's size with padding, %d bytes,", l.size)}
	}
	return nil
}

// buildField builds the layout of a field's type and checks its tag options
// against it.
func buildField(t reflect.Type, o tagOptions, path string) (*Layout, error) {
	bad := func(format string, args ...any) error {
		return &FieldError{Field: path, Reason: fmt.Sprintf(format, args...)}
	}
	if t.Kind() == reflect.String {
		if !o.cstring || o.size < 0 {
			return nil, bad("%s", unsupported(t))
		}
		l := &Layout{typ: t, name: path, size: o.size, align: 1}
		l.prog = compileProgram(l)
		return l, nil
	}
	if o.nul && !o.cstring {
		return nil, bad(`nul applies to cstring fields only: bpf:"cstring,nul"`)
	}
	if o.size >= 0 {
		return nil, bad(`size=N applies to cstring strings only, not to %s`, t)
	}
	if o.cstring && !(t.Kind() == reflect.Array && (t.Elem().Kind() == reflect.Uint8 || t.Elem().Kind() == reflect.Int8)) {
		return nil, bad("cstring applies to [N]byte and string fields, not to %s", t)
	}
	if o.cstring && t.Len() == 0 {
		return nil, bad("cstring on %s leaves no room for the NUL terminator: use [N]byte with N of 1 or more", t)
	}
	if o.be {
		b := t
		for b.Kind() == reflect.Array {
			b = b.Elem()
		}
		switch b.Kind() {
		case reflect.Int8, reflect.Uint8, reflect.Int16, reflect.Uint16, reflect.Int32, reflect.Uint32, reflect.Int64, reflect.Uint64:
		default:
			return nil, bad("be applies to integers and arrays of integers, not to %s", t)
		}
	}
	return build(t, path)
}

// AlignUp rounds n up to a multiple of align (> 0): the offset at which C
// places a field of that alignment after n bytes, and a struct's size
// after its trailing padding. It is the one alignment rule of the module's
// layouts; the kernel's fixed 8-byte rules have names of their own
// (sys.ValueStride for per-CPU and mmapped values, ringproto.Round8 for
// ring records).
func AlignUp(n, align int) int { return (n + align - 1) / align * align }
