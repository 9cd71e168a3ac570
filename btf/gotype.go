package btf

import (
	"fmt"
	"strconv"
)

// A GoType is the Go type that holds a C type in structcodec's layout:
// the type expression, the bpf tag option it needs, and the C size and
// alignment it stands for. The generator (cmd/bpfcodegen) writes Go
// declarations from it.
type GoType struct {
	Expr  string // Go type expression: "uint32", "[16]byte", "bool"
	Tag   string // bpf tag option: "be", "cstring" or ""
	Size  int    // in bytes
	Align int    // Go alignment, which padding must match C's
	Char  bool   // a C char: an array of it is text (cstring)
}

// GoScalar returns the Go type of t, a C type without members: an
// integer, a float, a pointer (its address, as uint64: Go code only
// carries it) or an enum (its integer). Integers and floats of widths Go
// lacks (__int128, long double) become byte arrays aligned as bytes are,
// so explicit padding puts them where C does. ok is false for other
// kinds, whose Go types the caller declares.
func GoScalar(t *Type) (gt GoType, ok bool) {
	n := int(t.Size)
	switch t.Kind {
	case KindInt:
		switch {
		case t.Encoding&Bool != 0 && n == 1:
			return GoType{Expr: "bool", Size: 1, Align: 1}, true
		case n == 1 || n == 2 || n == 4 || n == 8:
			char := n == 1 && (t.Encoding&Char != 0 || t.Name == "char")
			return GoType{Expr: GoInt(n, t.Signed()), Size: n, Align: n, Char: char}, true
		}
	case KindFloat:
		switch n {
		case 4:
			return GoType{Expr: "float32", Size: 4, Align: 4}, true
		case 8:
			return GoType{Expr: "float64", Size: 8, Align: 8}, true
		}
	case KindPtr:
		return GoType{Expr: "uint64", Size: 8, Align: 8}, true
	case KindEnum, KindEnum64:
		return GoType{Expr: GoInt(n, t.Signed()), Size: n, Align: n}, true
	default:
		return GoType{}, false
	}
	return GoType{Expr: fmt.Sprintf("[%d]byte", n), Size: n, Align: 1}, true
}

// GoInt returns the Go integer type of size bytes (1, 2, 4 or 8).
func GoInt(size int, signed bool) string {
	if signed {
		return "int" + strconv.Itoa(8*size)
	}
	return "uint" + strconv.Itoa(8*size)
}

// BigEndianTypedef reports whether name is one of the kernel's
// network-order integer typedefs (__be16, __be32, __be64), whose Go
// fields take the "be" tag.
func BigEndianTypedef(name string) bool {
	return name == "__be16" || name == "__be32" || name == "__be64"
}

// GoEnumValue returns the value of enumerator v of enum t as Go source:
// its low t.Size bytes, signed when the enum is.
func (t *Type) GoEnumValue(v EnumValue) string {
	n := int(t.Size)
	if t.Signed() {
		return strconv.FormatInt(signExtend(v.Value, n), 10)
	}
	if n < 8 {
		return strconv.FormatUint(v.Value&(1<<(8*n)-1), 10)
	}
	return strconv.FormatUint(v.Value, 10)
}
