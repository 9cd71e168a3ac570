package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/bpfmaps/bpfmaps/btf"
)

// btfFieldsHelp documents field=value arguments for maps with BTF.
const btfFieldsHelp = `A key or value whose C type is a struct or union (from the map's BTF, or
--btf FILE with --type/--key-type) can be given as field=value pairs
separated by commas, e.g. "pid=42,comm=bash,peer.port=53": nested members
are named with dots, integers and enums in host byte order as dump prints
them (an enum also by its name), char arrays as text, other arrays as hex
bytes, and a 4-byte integer also as an IPv4 address (its bytes in network
order). Members left out are zero.`

// encode turns "pid=42,comm=bash,peer.port=53" into the bytes of the
// struct or union bt describes.
func (bt *btfType) encode(arg string) ([]byte, error) {
	root, err := bt.spec.Resolve(bt.id)
	if err != nil {
		return nil, err
	}
	if t, err := bt.spec.Type(root); err != nil {
		return nil, err
	} else if t.Kind != btf.KindStruct && t.Kind != btf.KindUnion {
		return nil, fmt.Errorf("field=value pairs need a struct or union, and %s is %s (give hex bytes or a sized integer such as u32:7)", bt.Name(), t.Kind)
	}
	b := make([]byte, bt.size())
	for _, pair := range strings.Split(arg, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, text, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("bad field %q: want name=value", pair)
		}
		name = strings.TrimSpace(name)
		m, err := bt.member(root, name)
		if err != nil {
			return nil, err
		}
		if err := bt.set(b, m, strings.TrimSpace(text)); err != nil {
			return nil, fmt.Errorf("member %s of %s: %v", name, bt.Name(), err)
		}
	}
	return b, nil
}

// btfMember is where a member named on the command line lives.
type btfMember struct {
	typ     btf.TypeID
	bitOff  uint32 // from the start of the outermost type
	bitSize uint8  // width of a bitfield, else 0
}

// member finds the member at path ("peer.port") of the struct or union
// root, looking into anonymous members as C does.
func (bt *btfType) member(root btf.TypeID, path string) (btfMember, error) {
	cur := btfMember{typ: root}
	for i, part := range strings.Split(path, ".") {
		id, err := bt.spec.Resolve(cur.typ)
		if err != nil {
			return cur, err
		}
		t, err := bt.spec.Type(id)
		if err != nil {
			return cur, err
		}
		if t.Kind != btf.KindStruct && t.Kind != btf.KindUnion {
			return cur, fmt.Errorf("no member %q in %s: %s is %s, which has no members", path, bt.Name(),
				strings.Join(strings.Split(path, ".")[:i], "."), bt.spec.Name(cur.typ))
		}
		m, ok := bt.find(t, part)
		if !ok {
			return cur, fmt.Errorf("no member %q in %s (members: %s)", path, bt.spec.Name(id), memberNames(t))
		}
		cur = btfMember{typ: m.typ, bitOff: cur.bitOff + m.bitOff, bitSize: m.bitSize}
	}
	return cur, nil
}

// find looks for the member called name in t and in its anonymous
// members, as C does.
func (bt *btfType) find(t *btf.Type, name string) (btfMember, bool) {
	for m := range bt.spec.Fields(t) {
		if m.Name == name {
			return btfMember{typ: m.Type, bitOff: m.BitOffset, bitSize: m.BitfieldSize}, true
		}
	}
	return btfMember{}, false
}

func memberNames(t *btf.Type) string {
	var names []string
	for _, m := range t.Members {
		if m.Name != "" {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, ", ")
}

// set writes text as the value of member m into b.
func (bt *btfType) set(b []byte, m btfMember, text string) error {
	id, err := bt.spec.Resolve(m.typ)
	if err != nil {
		return err
	}
	t, err := bt.spec.Type(id)
	if err != nil {
		return err
	}
	// The bytes are the map's: the kernel stores them in host order,
	// whatever byte order the BTF blob was written in (an object file
	// built for bpfel read on big-endian s390x), as the formatter reads them.
	order := binary.ByteOrder(binary.NativeEndian)
	if m.bitSize != 0 || m.bitOff%8 != 0 || t.Kind == btf.KindInt && (t.IntOffset != 0 || t.IntBits%8 != 0) {
		bits := uint32(m.bitSize)
		if bits == 0 {
			bits = uint32(t.IntBits)
		}
		v, err := parseBits(text, bits, t.Signed())
		if err != nil {
			return err
		}
		return putBits(b, m.bitOff+uint32(t.IntOffset), bits, v, order)
	}
	off := int(m.bitOff / 8)
	size, err := bt.spec.Size(id)
	if err != nil {
		return err
	}
	if off+int(size) > len(b) {
		return fmt.Errorf("the BTF places it past the end of the %d-byte type", len(b))
	}
	dst := b[off : off+int(size)]
	switch t.Kind {
	case btf.KindInt:
		if t.Encoding&btf.Bool != 0 {
			v, err := strconv.ParseBool(text)
			if err != nil {
				return fmt.Errorf("bad bool %q: want true or false", text)
			}
			if v {
				dst[0] = 1
			}
			return nil
		}
		if size == 4 && strings.Count(text, ".") == 3 {
			if a, err := netip.ParseAddr(text); err == nil && a.Is4() {
				a4 := a.As4()
				copy(dst, a4[:])
				return nil
			}
		}
		return putInteger(dst, text, t.Signed(), order)
	case btf.KindEnum, btf.KindEnum64:
		for _, e := range t.Values {
			if e.Name == text {
				return putRaw(dst, e.Value, order)
			}
		}
		if err := putInteger(dst, text, t.Signed(), order); err != nil {
			var names []string
			for _, e := range t.Values {
				names = append(names, e.Name)
			}
			return fmt.Errorf("%q is not an enumerator of %s (%s) nor an integer", text, bt.spec.Name(id), strings.Join(names, ", "))
		}
		return nil
	case btf.KindPtr:
		return putInteger(dst, text, false, order)
	case btf.KindFloat:
		f, err := strconv.ParseFloat(text, int(size*8))
		if err != nil {
			return fmt.Errorf("bad floating-point number %q", text)
		}
		if size == 4 {
			order.PutUint32(dst, math.Float32bits(float32(f)))
		} else {
			order.PutUint64(dst, math.Float64bits(f))
		}
		return nil
	case btf.KindArray:
		if bt.isChar(t.Ref) {
			if len(text) >= len(dst) {
				return fmt.Errorf("%q is %d bytes, the array holds %d and a NUL", text, len(text), len(dst)-1)
			}
			copy(dst, text)
			return nil
		}
		raw, err := parseBytes(text)
		if err != nil {
			return err
		}
		if len(raw) != len(dst) {
			return fmt.Errorf("%d bytes given, %s has %d (an array is given as hex bytes)", len(raw), bt.spec.Name(m.typ), len(dst))
		}
		copy(dst, raw)
		return nil
	case btf.KindStruct, btf.KindUnion:
		return fmt.Errorf("%s has members: name them with dots, e.g. member.field=1", bt.spec.Name(id))
	}
	return fmt.Errorf("cannot set a %s from the command line", t.Kind)
}

// isChar reports whether id (qualifiers skipped) is a one-byte integer:
// an array of it is text.
func (bt *btfType) isChar(id btf.TypeID) bool {
	rid, err := bt.spec.Resolve(id)
	if err != nil {
		return false
	}
	t, err := bt.spec.Type(rid)
	return err == nil && t.Kind == btf.KindInt && t.IntBits == 8 && t.Encoding&btf.Bool == 0
}

// putInteger parses text (decimal or 0x hex, negative for signed types)
// into dst, an integer of len(dst) bytes.
func putInteger(dst []byte, text string, signed bool, order binary.ByteOrder) error {
	bits := len(dst) * 8
	if len(dst) != 1 && len(dst) != 2 && len(dst) != 4 && len(dst) != 8 {
		return fmt.Errorf("a %d-byte integer is given as hex bytes, not %q", len(dst), text)
	}
	var v uint64
	if signed {
		n, err := strconv.ParseInt(text, 0, bits)
		if err != nil {
			return fmt.Errorf("bad %d-bit signed integer %q: %v", bits, text, numErr(err))
		}
		v = uint64(n)
	} else {
		n, err := strconv.ParseUint(text, 0, bits)
		if err != nil {
			return fmt.Errorf("bad %d-bit unsigned integer %q: %v", bits, text, numErr(err))
		}
		v = n
	}
	return putRaw(dst, v, order)
}

// putRaw stores the low len(dst) bytes of v in dst.
func putRaw(dst []byte, v uint64, order binary.ByteOrder) error {
	switch len(dst) {
	case 1:
		dst[0] = byte(v)
	case 2:
		order.PutUint16(dst, uint16(v))
	case 4:
		order.PutUint32(dst, uint32(v))
	case 8:
		order.PutUint64(dst, v)
	default:
		return fmt.Errorf("a %d-byte integer cannot be set", len(dst))
	}
	return nil
}

// parseBits parses a bitfield's value, which must fit in bits bits.
func parseBits(text string, bits uint32, signed bool) (uint64, error) {
	if bits == 0 || bits > 64 {
		return 0, fmt.Errorf("a %d-bit field cannot be set", bits)
	}
	if signed {
		n, err := strconv.ParseInt(text, 0, int(bits))
		if err != nil {
			return 0, fmt.Errorf("bad %d-bit signed integer %q: %v", bits, text, numErr(err))
		}
		return uint64(n) & (math.MaxUint64 >> (64 - bits)), nil
	}
	n, err := strconv.ParseUint(text, 0, int(bits))
	if err != nil {
		return 0, fmt.Errorf("bad %d-bit unsigned integer %q: %v", bits, text, numErr(err))
	}
	return n, nil
}

// putBits stores the low bits bits of v at bit offset off of b, as the C
// compiler lays out bitfields: from the least significant bit of the
// first byte on little-endian machines, from the most significant on
// big-endian ones.
func putBits(b []byte, off, bits uint32, v uint64, order binary.ByteOrder) error {
	if int((off+bits+7)/8) > len(b) {
		return fmt.Errorf("the BTF places it past the end of the %d-byte type", len(b))
	}
	for i := range bits {
		var bit byte
		var pos uint32
		if order == binary.BigEndian {
			bit = byte(v>>(bits-1-i)) & 1 // most significant first
			pos = off + i
			b[pos/8] = b[pos/8]&^(0x80>>(pos%8)) | bit<<(7-pos%8)
		} else {
			bit = byte(v>>i) & 1
			pos = off + i
			b[pos/8] = b[pos/8]&^(1<<(pos%8)) | bit<<(pos%8)
		}
	}
	return nil
}
