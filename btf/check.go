package btf

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// A MismatchError is the first place where a Go type's C layout differs
// from the C type it is held against. Either side may be missing (a Go
// field with no C member, a C member with no Go field).
type MismatchError struct {
	Go       string // the Go field, as Type.Field.Field, or the Go type
	GoOffset int    // bytes from the start of the value
	GoSize   int
	C        string // the C member, as type.member.member, or the C type
	COffset  int
	CSize    int
	Reason   string // what differs, and what to write instead where it helps
	Whole    bool   // Go and C name whole types, not a field and a member
}

// Error names the first mismatch on both sides: the Go field and the C
// member, each with its offset and size, and why they differ.
func (e *MismatchError) Error() string {
	var parts []string
	switch {
	case e.Whole:
		parts = append(parts, fmt.Sprintf("Go type %s (%s)", e.Go, plural(e.GoSize, "byte")),
			fmt.Sprintf("C type %s (%s)", e.C, plural(e.CSize, "byte")))
	default:
		if e.Go != "" {
			parts = append(parts, fmt.Sprintf("Go field %s (offset %d, %s)", e.Go, e.GoOffset, plural(e.GoSize, "byte")))
		}
		if e.C != "" {
			parts = append(parts, fmt.Sprintf("C member %s (offset %d, %s)", e.C, e.COffset, plural(e.CSize, "byte")))
		}
	}
	s := strings.Join(parts, " vs ")
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// Check holds the C layout of a Go type against the C type id of spec and
// returns a *MismatchError for the first difference: the sizes must be
// equal and every Go field must lie where a C member of a compatible kind
// and the same size lies:
//
//   - integers against integers, enums or pointers of the same width
//     (signedness is not compared); big-endian C typedefs (__be16,
//     __be32, __be64) want a `bpf:"be"` field, and a be field may also
//     stand for a plain integer;
//   - bool against _Bool, float32 and float64 against float and double;
//   - [N]T against T[N], cstring fields against char[N];
//   - structs against structs, recursively, nested and in arrays, and
//     against the DATASEC of a global data map (.bss, .data), whose
//     variables are then the members (and [N]byte fields may fill the
//     bytes between them).
//
// The members of a C11 anonymous struct or union may be Go fields of the
// parent, as C code reaches them (for a union, the one member the field
// stands for: by name, else by offset and size), or one nested field: a
// struct for a struct, a byte array for either. A zero-length Go array
// ([0]uint64) stands for a flexible or zero-length C array at its offset,
// element type compared, and may be left out.
//
// Blank Go fields (_) cover C members that the Go type ignores; a byte
// array (without tags) stands for any C type of its size, as opaque bytes;
// any Go field of the right size may stand for a kernel-owned struct such
// as bpf_spin_lock or bpf_timer. C members
// that Go cannot express are accepted when covered whole: bitfields by an
// integer or byte array over their storage, unions by a byte array of
// their size; otherwise the error says what to write instead.
func Check(l *structcodec.Layout, spec *Spec, id TypeID) error {
	c := checker{s: spec, root: goName(l.Type())}
	return c.value(l, false, false, id, c.root, spec.Name(id), 0)
}

type checker struct {
	s    *Spec
	root string // the Go type's name
}

func goName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// rootName names a C type in member paths: a struct's tag, else its C
// spelling.
func (s *Spec) rootName(id TypeID) string {
	if t, err := s.Type(id); err == nil && t.Name != "" {
		return t.Name
	}
	return s.Name(id)
}

// resolveBE is Resolve that also reports whether a typedef along the way
// names a big-endian integer (__be16, __be32, __be64).
func (s *Spec) resolveBE(id TypeID) (TypeID, bool, error) {
	be := false
	rid, err := s.ResolveFunc(id, func(_ TypeID, t *Type) {
		be = be || t.Kind == KindTypedef && BigEndianTypedef(t.Name)
	})
	if err != nil {
		return 0, false, err
	}
	return rid, be, nil
}

func (c *checker) value(l *structcodec.Layout, be, cstring bool, id TypeID, gp, cp string, off int) error {
	s := c.s
	rid, cBE, err := s.resolveBE(id)
	if err != nil {
		return err
	}
	csize, err := s.Size(rid)
	if err != nil {
		return err
	}
	t := s.typ(rid)
	bad := func(format string, args ...any) error {
		return &MismatchError{Go: gp, GoOffset: off, GoSize: l.Size(), C: cp, COffset: off, CSize: int(csize),
			Reason: fmt.Sprintf(format, args...), Whole: gp == c.root}
	}
	gt := l.Type()
	cname := s.Name(id)
	if l.Size() != int(csize) {
		if gp == c.root {
			return bad("the sizes differ")
		}
		return bad("Go %s vs C %s", gt, cname)
	}
	byteArray := gt.Kind() == reflect.Array && (gt.Elem().Kind() == reflect.Uint8 || gt.Elem().Kind() == reflect.Int8)
	if byteArray && !cstring && !be && (t.Kind != KindArray || !c.isChar(t.Ref)) {
		return nil // opaque bytes of the right size
	}
	if t.Kind == KindUnion {
		return bad("C %s: a Go struct cannot express a union; use a [%d]byte field and decode the member you want from it", cname, csize)
	}
	if t.Kind == KindStruct && strings.HasPrefix(t.Name, "bpf_") && gt.Kind() != reflect.Struct {
		// A field the kernel owns (bpf_spin_lock, bpf_timer, …): user
		// space sees zeros or opaque bytes, and writes are ignored.
		return nil
	}
	switch gt.Kind() {
	case reflect.Bool:
		if t.Kind != KindInt || t.Encoding&Bool == 0 {
			u := "u"
			if t.Signed() {
				u = ""
			}
			return bad("Go bool vs C %s: bool stands for _Bool only; use %sint%d", cname, u, csize*8)
		}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch t.Kind {
		case KindInt, KindEnum, KindEnum64, KindPtr:
		default:
			return bad("Go %s vs C %s: an integer stands for a C integer, enum or pointer", gt, cname)
		}
		if cBE && !be && csize > 1 {
			return bad("C %s is big-endian (network order): tag the Go field `bpf:\"be\"`", cname)
		}
	case reflect.Float32, reflect.Float64:
		if t.Kind != KindFloat {
			return bad("Go %s vs C %s: a float stands for a C float or double", gt, cname)
		}
	case reflect.String: // cstring,size=N
		if t.Kind != KindArray || !c.isChar(t.Ref) {
			return bad("Go cstring vs C %s: a cstring stands for a char array", cname)
		}
	case reflect.Array:
		if t.Kind != KindArray {
			return bad("Go %s vs C %s: a Go array stands for a C array", gt, cname)
		}
		if uint32(l.Len()) != t.Len {
			return bad("Go %s has %d elements, C %s has %d", gt, l.Len(), cname, t.Len)
		}
		// The elements are alike: the first one stands for all (and,
		// in a zero-length array, for the elements that may follow).
		return c.value(l.Elem(), be, cstring, t.Ref, gp+"[0]", cp+"[0]", off)
	case reflect.Struct:
		if gp == c.root {
			cp = c.s.rootName(id) // members read struct.member
		}
		if t.Kind == KindDatasec {
			// A global data map (.bss, .data, .rodata): its variables
			// are the members.
			return c.fields(l, datasecStruct(s, t), cname, gp, cp, off, true)
		}
		if t.Kind != KindStruct {
			return bad("Go struct %s vs C %s: a Go struct stands for a C struct", gt, cname)
		}
		return c.fields(l, t, cname, gp, cp, off, false)
	}
	return nil
}

func (c *checker) isChar(id TypeID) bool {
	rid, err := c.s.Resolve(id)
	if err != nil {
		return false
	}
	t := c.s.typ(rid)
	return t.Kind == KindInt && t.Size == 1
}

// bitfield reports whether a member is a bitfield, in either encoding:
// with the struct's kind_flag, a width in the member; without it, an INT
// member type narrower than its size.
func (c *checker) bitfield(kindFlag bool, m *Member) bool {
	if m.Bitfield() {
		return true
	}
	if !kindFlag {
		if rid, err := c.s.Resolve(m.Type); err == nil {
			it := c.s.typ(rid)
			return it.Kind == KindInt && (uint32(it.IntBits) != it.Size*8 || it.IntOffset != 0)
		}
	}
	return false
}

// bits returns the bit range [start, end) a member occupies.
func (c *checker) bits(kindFlag bool, m *Member) (uint64, uint64) {
	start := uint64(m.BitOffset)
	if m.BitfieldSize != 0 {
		return start, start + uint64(m.BitfieldSize)
	}
	if rid, err := c.s.Resolve(m.Type); err == nil && !kindFlag {
		if it := c.s.typ(rid); it.Kind == KindInt && uint32(it.IntBits) != it.Size*8 {
			return start + uint64(it.IntOffset), start + uint64(it.IntOffset) + uint64(it.IntBits)
		}
	}
	n, _ := c.s.Size(m.Type)
	return start, start + uint64(n)*8
}

func memberName(m *Member) string {
	if m.Name == "" {
		return "(anonymous)"
	}
	return m.Name
}

// A cMember is a member of the C struct being checked: one of its own, or
// one of an anonymous struct or union in it (C11), which C code reaches
// as a member of the parent.
type cMember struct {
	Member
	kindFlag bool // of the struct or union the member belongs to
}

// anonymous returns the struct or union type of an anonymous member, or
// nil.
func (c *checker) anonymous(m *Member) *Type {
	if m.Name != "" {
		return nil
	}
	rid, err := c.s.Resolve(m.Type)
	if err != nil {
		return nil
	}
	if t := c.s.typ(rid); t.Kind == KindStruct || t.Kind == KindUnion {
		return t
	}
	return nil
}

// names lists the names by which C reaches a member: its own, or those
// of the members of an anonymous struct or union, at any depth.
func (c *checker) names(m *Member) []string {
	at := c.anonymous(m)
	if at == nil {
		return []string{m.Name}
	}
	var out []string
	for f := range c.s.Fields(at) {
		out = append(out, f.Name)
	}
	return out
}

// expand replaces the anonymous struct or union ms[j] by what stands for
// it when Go writes its members as fields of the parent (the natural Go
// form of C11 anonymous members): a struct by its members, a union by the
// one alternative the Go field f (at bit offset fstart) stands for.
func (c *checker) expand(ms []cMember, covered []bool, j int, f *structcodec.Field, fstart uint64) ([]cMember, []bool) {
	m := ms[j]
	at := c.anonymous(&m.Member)
	var in []cMember
	if at.Kind == KindStruct {
		for _, x := range at.Members {
			x.BitOffset += m.BitOffset
			in = append(in, cMember{x, at.KindFlag})
		}
	} else {
		pick := -1
		for i := range at.Members {
			for _, n := range c.names(&at.Members[i]) {
				if pick < 0 && sameName(f.Name, n) {
					pick = i
				}
			}
		}
		for i := range at.Members {
			if start, end := c.bits(at.KindFlag, &at.Members[i]); pick < 0 && start+uint64(m.BitOffset) == fstart && end-start == uint64(f.Size)*8 {
				pick = i
			}
		}
		for i := range at.Members {
			if pick < 0 && c.anonymous(&at.Members[i]) != nil {
				pick = i
			}
		}
		pick = max(pick, 0)
		x := at.Members[pick]
		x.BitOffset += m.BitOffset
		in = []cMember{{x, at.KindFlag}}
	}
	ms = append(ms[:j:j], append(in, ms[j+1:]...)...)
	covered = append(covered[:j:j], append(make([]bool, len(in)), covered[j+1:]...)...)
	for k := j; k < j+len(in); k++ {
		if start, end := c.bits(ms[k].kindFlag, &ms[k].Member); start == end {
			covered[k] = true
		}
	}
	return ms, covered
}

// fields checks the fields of l against the members of t; with gaps (a
// data section's variables), byte arrays may fill the bytes between
// members.
func (c *checker) fields(l *structcodec.Layout, t *Type, cname, gp, cp string, base int, gaps bool) error {
	ms := make([]cMember, len(t.Members))
	covered := make([]bool, len(t.Members))
	for j := range t.Members {
		ms[j] = cMember{t.Members[j], t.KindFlag}
		if start, end := c.bits(t.KindFlag, &t.Members[j]); start == end {
			covered[j] = true // a flexible array: no bytes of its own
		}
	}
	member := func(j int) (string, int, int) {
		m := &ms[j]
		start, end := c.bits(m.kindFlag, &m.Member)
		return cp + "." + memberName(&m.Member), base + int(start/8), int((end - start + 7) / 8)
	}
	missing := func(j int) error {
		name, off, size := member(j)
		reason := "no Go field covers it; add one, or a blank _ field of its size to ignore it"
		if c.bitfield(ms[j].kindFlag, &ms[j].Member) {
			reason = "it is a bitfield, which Go cannot express: cover its storage with an integer or byte array field"
		}
		return &MismatchError{C: name, COffset: off, CSize: size, Reason: reason}
	}
	for _, f := range l.Fields() {
		fstart, fend := uint64(f.Offset)*8, uint64(f.Offset+f.Size)*8
		fp := gp + "." + f.Name
		if f.Size == 0 {
			// A zero-length Go array holds no bytes: it stands for a
			// flexible or zero-length C array at its offset, if there is
			// one (then of the same element type), and for nothing else.
			for j := range ms {
				if start, end := c.bits(ms[j].kindFlag, &ms[j].Member); start == fstart && end == fstart && f.Name != "_" {
					name, _, _ := member(j)
					if err := c.value(f.Layout, f.BigEndian, f.CString, ms[j].Type, fp, name, base+f.Offset); err != nil {
						return err
					}
					break
				}
			}
			continue
		}
		// Anonymous structs and unions that the field does not stand for
		// whole (as a struct, or as opaque bytes) are opened: Go writes
		// their members as fields of the parent.
		for j := 0; j < len(ms); j++ {
			if covered[j] || c.anonymous(&ms[j].Member) == nil || f.Name == "_" {
				continue
			}
			start, end := c.bits(ms[j].kindFlag, &ms[j].Member)
			if start >= fend || fstart >= end {
				continue
			}
			k := f.Type.Kind()
			whole := start == fstart && end == fend &&
				(k == reflect.Struct && c.anonymous(&ms[j].Member).Kind == KindStruct ||
					k == reflect.Array && (f.Type.Elem().Kind() == reflect.Uint8 || f.Type.Elem().Kind() == reflect.Int8) && !f.CString && !f.BigEndian)
			if !whole {
				ms, covered = c.expand(ms, covered, j, &f, fstart)
				j--
			}
		}
		// before: the first C member left uncovered before the field;
		// over: the uncovered members the field overlaps; exact: one of
		// them starts and ends where the field does.
		before, exact := -1, false
		var over []int
		for j := range ms {
			if covered[j] {
				continue
			}
			start, end := c.bits(ms[j].kindFlag, &ms[j].Member)
			if end <= fstart {
				if before < 0 {
					before = j
				}
				continue
			}
			if start < fend && fstart < end {
				over = append(over, j)
				exact = exact || start == fstart && end == fend
			}
		}
		goSide := &MismatchError{Go: fp, GoOffset: base + f.Offset, GoSize: f.Size}
		if before >= 0 {
			if f.Name == "_" || exact {
				return missing(before)
			}
			// The field lies past the member it was most likely meant to be.
			goSide.C, goSide.COffset, goSide.CSize = member(before)
			return goSide
		}
		if f.Name == "_" {
			for _, j := range over {
				covered[j] = true
			}
			continue
		}
		if len(over) == 0 && gaps && f.Type.Kind() == reflect.Array && f.Type.Elem().Kind() == reflect.Uint8 && !f.CString && !f.BigEndian {
			continue // bytes between two variables of a data section
		}
		if len(over) == 0 {
			// Pair the field with the next C member, if any: usually
			// the one it was meant to be.
			next := -1
			for j := range ms {
				if start, _ := c.bits(ms[j].kindFlag, &ms[j].Member); !covered[j] && start >= fend && (next < 0 || start < uint64(ms[next].BitOffset)) {
					next = j
				}
			}
			if next >= 0 {
				goSide.C, goSide.COffset, goSide.CSize = member(next)
			} else {
				goSide.Reason = fmt.Sprintf("C %s has no member at offsets %d to %d", cname, base+f.Offset, base+f.Offset+f.Size-1)
			}
			return goSide
		}
		first := &ms[over[0]]
		goSide.C, goSide.COffset, goSide.CSize = member(over[0])
		if !exact && !c.bitfield(first.kindFlag, &first.Member) {
			// A misplaced field: pair it with the member of its name,
			// if there is one (DstPort with dport).
			for j := range ms {
				if !covered[j] && sameName(f.Name, ms[j].Name) {
					goSide.C, goSide.COffset, goSide.CSize = member(j)
					return goSide
				}
			}
		}
		if c.bitfield(first.kindFlag, &first.Member) {
			k := f.Type.Kind()
			intLike := k >= reflect.Int8 && k <= reflect.Int64 || k >= reflect.Uint8 && k <= reflect.Uint64 ||
				k == reflect.Array && (f.Type.Elem().Kind() == reflect.Uint8 || f.Type.Elem().Kind() == reflect.Int8)
			for _, j := range over {
				start, end := c.bits(ms[j].kindFlag, &ms[j].Member)
				if !c.bitfield(ms[j].kindFlag, &ms[j].Member) || start < fstart || end > fend || !intLike {
					name, off, size := member(j)
					return &MismatchError{Go: fp, GoOffset: base + f.Offset, GoSize: f.Size, C: name, COffset: off, CSize: size,
						Reason: fmt.Sprintf("%s is a bitfield (bits %d to %d of %s), which Go cannot express: cover its storage with one integer or byte array field that holds it whole", memberName(&ms[j].Member), start, end-1, cp)}
				}
				covered[j] = true
			}
			continue
		}
		if goSide.COffset != goSide.GoOffset || goSide.CSize != goSide.GoSize || len(over) > 1 {
			if goSide.COffset == goSide.GoOffset && goSide.CSize == goSide.GoSize {
				name, off, size := member(over[1])
				goSide.Reason = fmt.Sprintf("it also overlaps C member %s (offset %d, %s)", name, off, plural(size, "byte"))
			}
			return goSide
		}
		covered[over[0]] = true
		if err := c.value(f.Layout, f.BigEndian, f.CString, first.Type, fp, goSide.C, base+f.Offset); err != nil {
			return err
		}
	}
	for j := range ms {
		if !covered[j] {
			return missing(j)
		}
	}
	return nil
}

// datasecStruct describes the variables of a DATASEC as the members of a
// struct, named after the variables.
func datasecStruct(s *Spec, t *Type) *Type {
	st := &Type{Kind: KindStruct, Name: t.Name, Size: t.Size, Members: make([]Member, len(t.Vars))}
	for i, v := range t.Vars {
		m := &st.Members[i]
		m.Type, m.BitOffset = v.Type, v.Offset*8
		if vt, err := s.Type(v.Type); err == nil && vt.Kind == KindVar {
			m.Name, m.Type = vt.Name, vt.Ref
		}
	}
	return st
}

// sameName reports whether a Go field name and a C member name may name
// the same thing: equal once lower-cased without underscores, or one an
// abbreviation (a subsequence) of the other, as dport of DstPort.
func sameName(goName, cName string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "") }
	a, b := norm(goName), norm(cName)
	if a == "" || b == "" {
		return false
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	i := 0
	for j := 0; j < len(a) && i < len(b); j++ {
		if a[j] == b[i] {
			i++
		}
	}
	return i == len(b) && a[0] == b[0]
}
