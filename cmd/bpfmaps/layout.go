package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// layoutHelp documents --layout and --key-layout.
const layoutHelp = `A layout names the fields of a C struct in order, name:type separated by commas:
  u8 u16 u32 u64 i8 i16 i32 i64   integers in host byte order (as C stores them)
  be16 be32 be64                  big-endian integers (network order)
  bool                            one byte, true or false
  ipv4                            4 bytes, written and printed as 10.0.0.1
  cstring[N]                      N bytes of NUL-padded text
  bytes[N]                        N raw bytes, written and printed as hex
Fields are aligned as a C compiler aligns them, with trailing padding, e.g.
--layout 'pid:u32,comm:cstring[16],addr:be32' is a 24-byte value. Values are
given as field=value pairs separated by commas; fields left out are zero.`

// layout is a record shape given on the command line. It is turned into a
// Go struct type with bpf tags at run time and compiled by structcodec, so
// the bytes are laid out exactly as the library lays out the same struct
// written in Go.
type layout struct {
	typ    reflect.Type
	codec  *structcodec.Layout
	fields []layoutField
}

type layoutField struct {
	name string // as the user wrote it
	kind string // u32, be16, cstring, bytes, ipv4, bool, …
	idx  int    // field index in typ
}

// parseLayout parses a layout spec such as "pid:u32,comm:cstring[16]".
func parseLayout(spec string) (*layout, error) {
	var (
		sfs    []reflect.StructField
		fields []layoutField
		seen   = map[string]bool{}
	)
	for _, part := range strings.Split(spec, ",") {
		name, kind, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !isIdent(name) {
			return nil, fmt.Errorf("bad field %q: want name:type, e.g. pid:u32", part)
		}
		if seen[name] {
			return nil, fmt.Errorf("field %q appears twice", name)
		}
		seen[name] = true
		sf := reflect.StructField{Name: "F_" + name}
		base, n, hasN, err := splitCount(kind)
		if err != nil {
			return nil, fmt.Errorf("field %q: %v", name, err)
		}
		switch {
		case hasN && (base == "cstring" || base == "bytes"):
			sf.Type = reflect.ArrayOf(n, reflect.TypeOf(byte(0)))
			if base == "cstring" {
				sf.Tag = `bpf:"cstring"`
			}
		case hasN:
			return nil, fmt.Errorf("field %q: only cstring[N] and bytes[N] take a size", name)
		case base == "bool":
			sf.Type = reflect.TypeOf(false)
		case base == "ipv4":
			sf.Type = reflect.TypeOf([4]byte{})
		default:
			k, ok := intKinds[base]
			if !ok {
				return nil, fmt.Errorf("field %q: unknown type %q (want u8…u64, i8…i64, be16, be32, be64, bool, ipv4, cstring[N] or bytes[N])", name, kind)
			}
			sf.Type = intType(k.size, k.signed)
			if k.big {
				sf.Tag = `bpf:"be"`
			}
		}
		fields = append(fields, layoutField{name: name, kind: base, idx: len(sfs)})
		sfs = append(sfs, sf)
	}
	typ := reflect.StructOf(sfs)
	codec, err := structcodec.Compile(typ)
	if err != nil {
		return nil, err
	}
	return &layout{typ: typ, codec: codec, fields: fields}, nil
}

// splitCount splits "cstring[16]" into "cstring", 16.
func splitCount(kind string) (base string, n int, hasN bool, err error) {
	base, rest, ok := strings.Cut(kind, "[")
	if !ok {
		return kind, 0, false, nil
	}
	num, ok := strings.CutSuffix(rest, "]")
	if n, err = strconv.Atoi(num); !ok || err != nil || n <= 0 || n > 1<<16 {
		return "", 0, false, fmt.Errorf("bad size in %q: want a positive count like cstring[16]", kind)
	}
	return base, n, true, nil
}

func isIdent(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func intType(size int, signed bool) reflect.Type {
	types := map[int][2]reflect.Type{
		1: {reflect.TypeOf(uint8(0)), reflect.TypeOf(int8(0))},
		2: {reflect.TypeOf(uint16(0)), reflect.TypeOf(int16(0))},
		4: {reflect.TypeOf(uint32(0)), reflect.TypeOf(int32(0))},
		8: {reflect.TypeOf(uint64(0)), reflect.TypeOf(int64(0))},
	}
	if signed {
		return types[size][1]
	}
	return types[size][0]
}

func (l *layout) size() int { return l.codec.Size() }

func (l *layout) field(name string) (layoutField, bool) {
	for _, f := range l.fields {
		if f.name == name {
			return f, true
		}
	}
	return layoutField{}, false
}

func (l *layout) names() string {
	var s []string
	for _, f := range l.fields {
		s = append(s, f.name)
	}
	return strings.Join(s, ", ")
}

// encode turns "pid=42,comm=bash" into the layout's bytes.
func (l *layout) encode(arg string) ([]byte, error) {
	v := reflect.New(l.typ).Elem()
	for _, pair := range strings.Split(arg, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, text, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("bad field %q: want name=value", pair)
		}
		f, ok := l.field(name)
		if !ok {
			return nil, fmt.Errorf("no field %q in the layout (fields: %s)", name, l.names())
		}
		if err := setField(v.Field(f.idx), f.kind, text); err != nil {
			return nil, fmt.Errorf("field %s: %v", name, err)
		}
	}
	b := make([]byte, l.size())
	if err := l.codec.EncodeValue(b, v); err != nil {
		return nil, err
	}
	return b, nil
}

func setField(fv reflect.Value, kind, text string) error {
	switch kind {
	case "bool":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return fmt.Errorf("bad bool %q", text)
		}
		fv.SetBool(b)
	case "ipv4":
		a, err := netip.ParseAddr(text)
		if err != nil || !a.Is4() {
			return fmt.Errorf("bad IPv4 address %q", text)
		}
		fv.Set(reflect.ValueOf(a.As4()))
	case "cstring":
		if len(text) >= fv.Len() {
			return fmt.Errorf("%q is %d bytes, the field holds %d and a NUL", text, len(text), fv.Len()-1)
		}
		reflect.Copy(fv, reflect.ValueOf([]byte(text)))
	case "bytes":
		b, err := parseBytes(text)
		if err != nil {
			return err
		}
		if len(b) != fv.Len() {
			return fmt.Errorf("%d bytes given, the field has %d", len(b), fv.Len())
		}
		reflect.Copy(fv, reflect.ValueOf(b))
	default:
		if fv.CanInt() {
			n, err := strconv.ParseInt(text, 0, fv.Type().Bits())
			if err != nil {
				return fmt.Errorf("bad %s %q: %v", kind, text, numErr(err))
			}
			fv.SetInt(n)
		} else {
			n, err := strconv.ParseUint(text, 0, fv.Type().Bits())
			if err != nil {
				return fmt.Errorf("bad %s %q: %v", kind, text, numErr(err))
			}
			fv.SetUint(n)
		}
	}
	return nil
}

// decode reads b (exactly the layout's size) into a new struct value.
func (l *layout) decode(b []byte) (reflect.Value, error) {
	if len(b) != l.size() {
		return reflect.Value{}, fmt.Errorf("%d bytes, the layout has %d", len(b), l.size())
	}
	v := reflect.New(l.typ).Elem()
	return v, l.codec.DecodeValue(b, v)
}

// text prints b as "pid=42 comm=bash addr=10.0.0.1".
func (l *layout) text(b []byte) string {
	v, err := l.decode(b)
	if err != nil {
		return hexBytes(b) + " (" + err.Error() + ")"
	}
	var sb strings.Builder
	for i, f := range l.fields {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%s=%v", f.name, fieldValue(v.Field(f.idx), f.kind))
	}
	return sb.String()
}

// json returns b's fields as a JSON object.
func (l *layout) json(b []byte) any {
	v, err := l.decode(b)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	out := make(map[string]any, len(l.fields))
	for _, f := range l.fields {
		out[f.name] = fieldValue(v.Field(f.idx), f.kind)
	}
	return out
}

func fieldValue(fv reflect.Value, kind string) any {
	switch kind {
	case "cstring":
		b := make([]byte, fv.Len())
		reflect.Copy(reflect.ValueOf(b), fv)
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	case "bytes":
		b := make([]byte, fv.Len())
		reflect.Copy(reflect.ValueOf(b), fv)
		return hex.EncodeToString(b)
	case "ipv4":
		return netip.AddrFrom4(fv.Interface().([4]byte)).String()
	}
	return fv.Interface()
}
