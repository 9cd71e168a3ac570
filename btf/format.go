package btf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// A Formatter formats the bytes of one C type, described by BTF, as
// bpftool's BTF dumper (tools/bpf/bpftool/btf_dumper.c) does in JSON mode:
// structs and unions as objects of every member in order (anonymous
// members under the name ""), arrays as arrays, char arrays that hold
// printable text up to a NUL as strings, enums as the enumerator's name
// (or the number, signed, when none matches; matched as bpftool does, so
// an unsigned 1-byte 255 is -1 and matches no enumerator 255), bitfields and 128-bit integers as
// "0x…" strings, pointers as numbers, _Bool as true or false (its first
// byte), DATASEC and VAR values as objects named after the section and
// variable.
type Formatter struct {
	spec *Spec
	id   TypeID
	size int
	name string
}

// NewFormatter returns the formatter of type id of spec; it fails for
// types without a size (void, functions).
func NewFormatter(spec *Spec, id TypeID) (*Formatter, error) {
	size, err := spec.Size(id)
	if err != nil {
		return nil, err
	}
	return &Formatter{spec: spec, id: id, size: int(size), name: spec.Name(id)}, nil
}

// Size returns the size of the C type in bytes.
func (f *Formatter) Size() int { return f.size }

// Name returns the C spelling of the type ("struct flow", "__u32").
func (f *Formatter) Name() string { return f.name }

// Format returns b as JSON, or an error when b is shorter than the type
// or the BTF places data beyond it.
func (f *Formatter) Format(b []byte) (json.RawMessage, error) {
	if len(b) < f.size {
		return nil, fmt.Errorf("%d bytes, %s has %d", len(b), f.name, f.size)
	}
	d := btfDumper{spec: f.spec, order: binary.NativeEndian}
	if err := d.do(f.id, 0, b, 0); err != nil {
		return nil, err
	}
	return json.RawMessage(d.out.Bytes()), nil
}

// maxOutput bounds the JSON of one value.
const maxOutput = 16 << 20

// btfDumper writes one value as JSON.
type btfDumper struct {
	spec  *Spec
	order binary.ByteOrder
	out   bytes.Buffer
}

// errShort is the error for BTF that places data beyond the value.
func errShort(id TypeID, need, have int) error {
	return fmt.Errorf("btf type %d needs %d bytes, %d are left", id, need, have)
}

// do writes the value of type id at data; bitOff (0-7) is the offset in
// bits of an integer member that does not start on a byte.
func (d *btfDumper) do(id TypeID, bitOff uint32, data []byte, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("btf type %d: nested too deeply", id)
	}
	t, err := d.spec.Type(id)
	if err != nil {
		return err
	}
	switch t.Kind {
	case KindInt:
		return d.integer(id, t, bitOff, data)
	case KindStruct, KindUnion:
		d.out.WriteByte('{')
		for i, m := range t.Members {
			if i > 0 {
				d.out.WriteByte(',')
			}
			d.str(m.Name)
			d.out.WriteByte(':')
			off := int(m.BitOffset / 8)
			if off > len(data) {
				return errShort(id, off, len(data))
			}
			if m.BitfieldSize != 0 {
				if err := d.bitfield(id, uint32(m.BitfieldSize), m.BitOffset%8, data[off:]); err != nil {
					return err
				}
			} else if err := d.do(m.Type, m.BitOffset%8, data[off:], depth+1); err != nil {
				return err
			}
		}
		d.out.WriteByte('}')
	case KindArray:
		if d.isString(t, data) {
			n := bytes.IndexByte(data[:t.Len], 0)
			d.str(string(data[:n]))
			return nil
		}
		size, err := d.spec.Size(t.Ref)
		if err != nil {
			return err
		}
		d.out.WriteByte('[')
		for i := range int(t.Len) {
			if i > 0 {
				d.out.WriteByte(',')
			}
			if d.out.Len() > maxOutput {
				// Arrays of empty structs cost no bytes of data.
				return fmt.Errorf("btf type %d: the formatted value exceeds %d bytes", id, maxOutput)
			}
			off := i * int(size)
			if off > len(data) {
				return errShort(id, off, len(data))
			}
			if err := d.do(t.Ref, 0, data[off:], depth+1); err != nil {
				return err
			}
		}
		d.out.WriteByte(']')
	case KindEnum, KindEnum64:
		n := int(t.Size)
		if n != 1 && n != 2 && n != 4 && n != 8 {
			return fmt.Errorf("btf type %d: enum of %d bytes", id, n)
		}
		if len(data) < n {
			return errShort(id, n, len(data))
		}
		// As btf_dumper_enum does: the value is read signed, whatever the
		// enum's sign, and compared with each enumerator's value, which
		// BTF_KIND_ENUM holds as an __s32 (clang before 15 writes 8-byte
		// enums so, truncating their values); BTF_KIND_ENUM64 holds all
		// 64 bits. An unmatched value prints signed.
		v := d.signed(data[:n])
		for _, e := range t.Values {
			ev := signExtend(e.Value, n)
			if t.Kind == KindEnum {
				ev = int64(int32(uint32(e.Value)))
			}
			if ev == v {
				d.str(e.Name)
				return nil
			}
		}
		d.out.WriteString(strconv.FormatInt(v, 10))
	case KindPtr:
		if len(data) < 8 {
			return errShort(id, 8, len(data))
		}
		d.out.WriteString(strconv.FormatUint(d.order.Uint64(data), 10))
	case KindTypedef, KindVolatile, KindConst, KindRestrict, KindTypeTag:
		rid, err := d.spec.Resolve(id)
		if err != nil {
			return err
		}
		return d.do(rid, bitOff, data, depth+1)
	case KindVar:
		d.out.WriteByte('{')
		d.str(t.Name)
		d.out.WriteByte(':')
		if err := d.do(t.Ref, bitOff, data, depth+1); err != nil {
			return err
		}
		d.out.WriteByte('}')
	case KindDatasec:
		d.out.WriteByte('{')
		d.str(t.Name)
		d.out.WriteString(":[")
		for i, v := range t.Vars {
			if i > 0 {
				d.out.WriteByte(',')
			}
			if int(v.Offset) > len(data) {
				return errShort(id, int(v.Offset), len(data))
			}
			if err := d.do(v.Type, 0, data[v.Offset:], depth+1); err != nil {
				return err
			}
		}
		d.out.WriteString("]}")
	case KindFloat:
		switch {
		case t.Size == 4 && len(data) >= 4:
			d.out.WriteString(strconv.FormatFloat(float64(math.Float32frombits(d.order.Uint32(data))), 'g', -1, 32))
		case t.Size == 8 && len(data) >= 8:
			d.out.WriteString(strconv.FormatFloat(math.Float64frombits(d.order.Uint64(data)), 'g', -1, 64))
		default:
			return fmt.Errorf("btf type %d: a float of %d bytes", id, t.Size)
		}
	default:
		return fmt.Errorf("btf type %d: a %s has no value", id, t.Kind)
	}
	return nil
}

// integer writes an INT as btf_dumper_int does.
func (d *btfDumper) integer(id TypeID, t *Type, bitOff uint32, data []byte) error {
	bits := uint32(t.IntBits)
	if bitOff != 0 || t.IntOffset != 0 || bits%8 != 0 {
		total := bitOff + uint32(t.IntOffset)
		if int(total/8) > len(data) {
			return errShort(id, int(total/8), len(data))
		}
		return d.bitfield(id, bits, total%8, data[total/8:])
	}
	n := int(bits / 8)
	if len(data) < n {
		return errShort(id, n, len(data))
	}
	if bits == 128 {
		return d.bitfield(id, 128, 0, data)
	}
	switch {
	case t.Encoding&Bool != 0:
		d.out.WriteString(strconv.FormatBool(data[0] != 0))
	case t.Encoding&Char != 0:
		c := data[0]
		if c >= 0x20 && c < 0x7f {
			d.str(string(rune(c)))
		} else {
			fmt.Fprintf(&d.out, `"\u00%02x"`, c)
		}
	case n != 1 && n != 2 && n != 4 && n != 8:
		return d.bitfield(id, bits, 0, data)
	case t.Encoding&Signed != 0:
		d.out.WriteString(strconv.FormatInt(d.signed(data[:n]), 10))
	default:
		d.out.WriteString(strconv.FormatUint(d.unsigned(data[:n]), 10))
	}
	return nil
}

// bitfield writes bits bits at bit offset off of data as a "0x…" string,
// as btf_dumper_bitfield does.
func (d *btfDumper) bitfield(id TypeID, bits, off uint32, data []byte) error {
	n := int((off + bits + 7) / 8)
	if len(data) < n {
		return errShort(id, n, len(data))
	}
	le := make([]byte, n)
	copy(le, data[:n])
	if d.order == binary.BigEndian {
		// Bit offsets count from the most significant bit on big-endian
		// machines.
		v := new(big.Int).SetBytes(le)
		v.Rsh(v, uint(8*n)-uint(off+bits))
		v.And(v, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1)))
		d.str("0x" + v.Text(16))
		return nil
	}
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	v := new(big.Int).SetBytes(le)
	v.Rsh(v, uint(off))
	v.And(v, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1)))
	d.str("0x" + v.Text(16))
	return nil
}

// isString reports whether an array is text as bpftool sees it: elements
// of a one-byte integer named char or encoded as one (qualifiers skipped,
// typedefs not), and printable ASCII up to a NUL within the array.
func (d *btfDumper) isString(arr *Type, data []byte) bool {
	if arr.Len == 0 || int(arr.Len) > len(data) {
		return false
	}
	id := arr.Ref
	var e *Type
	for range MaxDepth {
		t, err := d.spec.Type(id)
		if err != nil {
			return false
		}
		if t.Kind != KindConst && t.Kind != KindVolatile && t.Kind != KindRestrict && t.Kind != KindTypeTag {
			e = t
			break
		}
		id = t.Ref
	}
	if e == nil || e.Kind != KindInt || e.Size != 1 || e.Encoding&Char == 0 && e.Name != "char" {
		return false
	}
	for _, c := range data[:arr.Len] {
		if c == 0 {
			return true
		}
		if c <= 0x1f || c >= 0x7f {
			return false
		}
	}
	return false
}

func (d *btfDumper) str(s string) {
	b, _ := json.Marshal(s)
	d.out.Write(b)
}

func (d *btfDumper) unsigned(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(d.order.Uint16(b))
	case 4:
		return uint64(d.order.Uint32(b))
	}
	return d.order.Uint64(b)
}

func (d *btfDumper) signed(b []byte) int64 { return signExtend(d.unsigned(b), len(b)) }

// signExtend reads the low size bytes of v as a signed number.
func signExtend(v uint64, size int) int64 {
	if size >= 8 {
		return int64(v)
	}
	shift := 64 - 8*size
	return int64(v<<shift) >> shift
}
