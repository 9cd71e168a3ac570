package main

import (
	"bytes"
	"fmt"
	"go/format"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// A btfRequest names the C types to write Go twins for.
type btfRequest struct {
	spec    *btf.Spec
	ids     []btf.TypeID // the types asked for
	names   []string     // Go names for anonymous ones among ids ("" to derive)
	pkg     string       // the Go package the file belongs to
	command string       // the command line, for the generated-code line
	methods bool         // also write MarshalBPF, UnmarshalBPF and SizeBPF
}

// GenerateFromBTF returns the source of a Go file that declares one tagged
// Go type for each requested C type and for every named struct and enum
// they use, laid out exactly as C lays them out: structcodec's layout of
// every generated type has the C size and the C offset of every member.
//
// The mapping: __u8…__u64, __s8…__s64 and the plain C integers become
// sized Go integers; __be16, __be32 and __be64 become integers tagged
// bpf:"be"; __int128 and unsigned __int128 become [16]byte, placed
// with explicit padding at their 16-byte alignment; char[N] becomes
// [N]byte tagged bpf:"cstring"; _Bool bool;
// float and double float32 and float64; pointers uint64; named structs
// Go structs of their own, anonymous ones struct literals (an anonymous
// struct member is a field named after its first member);
// arrays arrays; named enums named integer types with one constant per
// enumerator. A union becomes a byte array covering it and a run of
// bitfields an integer or byte array covering it, each with a comment
// naming the C members. Explicit padding appears only where Go would not
// place a field at its C offset or end the struct at its C size; a
// struct that natural alignment cannot express gets structcodec.Packed.
//
// Every field carries its C name in a btf tag: btf:"dport" for a member,
// btf:"union(a,b)" for the members of an anonymous union, btf:"struct(a,b)"
// for those of an anonymous struct, btf:"bits(name:bit:width,…)" for
// bitfields, with bit offsets counted from the field's first byte, least
// significant bit first.
//
// A global data section (.bss, .data, .rodata) becomes a struct of its
// variables at their offsets, with the bytes between them as fields
// named after their offset (GapN, btf:"-"), not blank: its Go memory is
// then the section's bytes whole, and mapops.MemoryOf can lay it over
// the section's map.
func GenerateFromBTF(req btfRequest) ([]byte, error) {
	src, _, err := generateFromBTF(req)
	return src, err
}

// generateFromBTF is GenerateFromBTF that also returns the Go name of
// every C type it declared.
func generateFromBTF(req btfRequest) ([]byte, map[btf.TypeID]string, error) {
	g := &btfGen{spec: req.spec, decls: map[btf.TypeID]string{}, used: map[string]bool{}}
	for i, id := range req.ids {
		name := ""
		if i < len(req.names) {
			name = req.names[i]
		}
		if _, err := g.declare(id, name); err != nil {
			return nil, nil, err
		}
	}
	for len(g.queue) > 0 {
		d := g.queue[0]
		g.queue = g.queue[1:]
		if err := g.emit(d); err != nil {
			return nil, nil, err
		}
	}

	var out bytes.Buffer
	fmt.Fprintf(&out, "%s %s; DO NOT EDIT.\n\npackage %s\n", generatedHeader, req.command, req.pkg)
	imports := map[string]string{}
	if g.packed {
		imports[structcodecPath] = "structcodec"
	}
	var methods []byte
	if req.methods {
		var err error
		if methods, err = g.methods(req.pkg, imports); err != nil {
			return nil, nil, err
		}
	}
	writeImports(&out, imports)
	out.Write(g.buf.Bytes())
	out.Write(methods)
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("format the generated code: %v\n%s", err, out.Bytes())
	}
	return src, g.decls, nil
}

// methods type-checks the declarations written so far and generates the
// MarshalBPF, UnmarshalBPF and SizeBPF methods of every struct among them.
func (g *btfGen) methods(pkgName string, imports map[string]string) ([]byte, error) {
	var src bytes.Buffer
	fmt.Fprintf(&src, "package %s\n", pkgName)
	if g.packed {
		fmt.Fprintf(&src, "import %q\n", structcodecPath)
	}
	src.Write(g.buf.Bytes())
	pkg, err := loadSource(pkgName, src.Bytes())
	if err != nil {
		return nil, fmt.Errorf("type-check the generated types: %v", err)
	}
	mg := &generator{pkg: pkg, imports: imports}
	for _, name := range g.structs {
		obj, l, err := lookup(pkg, nil, name)
		if err != nil {
			return nil, err
		}
		mg.typ(obj, l)
	}
	return mg.buf.Bytes(), nil
}

// btfGen writes Go declarations for BTF types.
type btfGen struct {
	spec    *btf.Spec
	decls   map[btf.TypeID]string // C type -> Go name, for declared types
	used    map[string]bool       // package-level Go names taken
	queue   []decl                // declared but not yet written
	structs []string              // Go names of the structs written, in order
	packed  bool                  // some struct needs structcodec.Packed
	aligns  map[btf.TypeID]int    // Go alignment of named structs
	bodies  map[btf.TypeID]body   // struct literals written so far
	buf     bytes.Buffer
}

type decl struct {
	id   btf.TypeID // the struct, union or enum
	name string     // its Go name
	via  string     // the typedef it was named by, if any
}

// exported turns a C identifier into an exported Go one: dport -> Dport,
// skc_daddr -> SkcDaddr, TCP_ESTABLISHED -> TcpEstablished. Anything but
// letters and digits separates words (BTF names are untrusted text).
func exported(c string) string {
	var sb strings.Builder
	parts := strings.FieldsFunc(c, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, part := range parts {
		if isUpper(part) {
			part = strings.ToLower(part)
		}
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		sb.WriteString(string(r))
	}
	s := sb.String()
	if s == "" || !unicode.IsLetter([]rune(s)[0]) || !token.IsExported(s) {
		s = "X" + s
	}
	return s
}

// safe makes C text from BTF (names, which are untrusted) fit in a Go
// comment or struct tag: characters other than letters, digits, spaces
// and the punctuation of C type names become '?'.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" _*[](),.:-", r) {
			return r
		}
		return '?'
	}, s)
}

func isUpper(s string) bool {
	return strings.ToUpper(s) == s && strings.ToLower(s) != s
}

// unique returns name, or name with the smallest number appended that is
// not in used, and marks it used.
func unique(used map[string]bool, name string) string {
	n := name
	for i := 2; used[n]; i++ {
		n = name + strconv.Itoa(i)
	}
	used[n] = true
	return n
}

// declare returns the Go name of a named struct, union or enum (after
// typedefs), queueing its declaration on first use. goName overrides the
// derived name.
func (g *btfGen) declare(id btf.TypeID, goName string) (string, error) {
	via := ""
	id, err := g.spec.ResolveFunc(id, func(_ btf.TypeID, t *btf.Type) {
		if via == "" && t.Kind == btf.KindTypedef {
			via = t.Name
		}
	})
	if err != nil {
		return "", err
	}
	t, err := g.spec.Type(id)
	if err != nil {
		return "", err
	}
	switch t.Kind {
	case btf.KindStruct, btf.KindUnion, btf.KindEnum, btf.KindEnum64, btf.KindDatasec:
	default:
		return "", fmt.Errorf("%s is a %s: only structs, unions, enums and global data sections become Go types", g.spec.Name(id), t.Kind)
	}
	if name, ok := g.decls[id]; ok {
		return name, nil
	}
	cname := t.Name
	if cname == "" {
		cname = via
	}
	if goName == "" {
		if cname == "" {
			return "", fmt.Errorf("type %d is an anonymous %s without a typedef: name it", id, t.Kind)
		}
		goName = exported(cname)
	}
	if g.used[goName] {
		switch t.Kind {
		case btf.KindUnion:
			goName += "Union"
		case btf.KindEnum, btf.KindEnum64:
			goName += "Enum"
		}
	}
	goName = unique(g.used, goName)
	g.decls[id] = goName
	g.queue = append(g.queue, decl{id, goName, via})
	return goName, nil
}

func (g *btfGen) printf(format string, args ...any) { fmt.Fprintf(&g.buf, format, args...) }

// emit writes the declaration of one struct, union or enum.
func (g *btfGen) emit(d decl) error {
	t, _ := g.spec.Type(d.id)
	cname := t.Describe()
	if t.Name == "" && d.via != "" {
		cname = "typedef " + d.via + ", an " + cname + ","
	}
	cname = safe(cname)
	switch t.Kind {
	case btf.KindEnum, btf.KindEnum64:
		g.printf("\n// %s is the C %s (%d bytes).\ntype %s %s\n", d.name, cname, t.Size, d.name, btf.GoInt(int(t.Size), t.Signed()))
		if len(t.Values) == 0 {
			return nil
		}
		g.printf("\n// The enumerators of %s.\nconst (\n", cname)
		for _, v := range t.Values {
			val := t.GoEnumValue(v)
			name := exported(v.Name)
			if g.used[name] {
				name = d.name + name
			}
			g.printf("%s %s = %s // %s\n", unique(g.used, name), d.name, val, safe(v.Name))
		}
		g.printf(")\n")
		return nil
	case btf.KindUnion:
		g.printf("\n// %s is the C %s (%d bytes), as bytes: its members are %s.\ntype %s [%d]byte\n",
			d.name, cname, t.Size, safe(strings.Join(g.unionNames(t), ", ")), d.name, t.Size)
		return nil
	}
	body, _, err := g.structBody(d.id, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", cname, err)
	}
	g.printf("\n// %s is the C %s (%d bytes).\ntype %s %s\n", d.name, cname, t.Size, d.name, body)
	g.structs = append(g.structs, d.name)
	return nil
}

// member is a struct member and its bitfield width.
type member struct {
	btf.Member
	width uint32 // bitfield width in bits, 0 if not a bitfield
}

// members lists the members of struct id with their bitfield widths,
// offsets from base.
func (g *btfGen) members(id btf.TypeID, base uint32, depth int) ([]member, error) {
	if depth > btf.MaxDepth {
		return nil, fmt.Errorf("anonymous structs nest too deeply")
	}
	t, err := g.spec.Type(id)
	if err != nil {
		return nil, err
	}
	ms := t.Members
	if t.Kind == btf.KindDatasec {
		// The variables of a global data section are its members.
		ms = nil
		for _, v := range t.Vars {
			if vt, err := g.spec.Type(v.Type); err == nil && vt.Kind == btf.KindVar {
				ms = append(ms, btf.Member{Name: vt.Name, Type: vt.Ref, BitOffset: v.Offset * 8})
			}
		}
	}
	var out []member
	for _, m := range ms {
		m.BitOffset += base
		rid, err := g.spec.Resolve(m.Type)
		if err != nil {
			return nil, err
		}
		rt, _ := g.spec.Type(rid)
		w := uint32(m.BitfieldSize)
		if w == 0 && rt.Kind == btf.KindInt && (int(rt.IntBits) != 8*int(rt.Size) || rt.IntOffset != 0 || m.BitOffset%8 != 0) {
			w = uint32(rt.IntBits) // a bitfield in the old encoding, without kind_flag
		}
		if w == 0 && m.BitOffset%8 != 0 {
			s, err := g.spec.Size(m.Type)
			if err != nil {
				return nil, err
			}
			w = 8 * s
		}
		out = append(out, member{m, w})
	}
	return out, nil
}

// unionNames lists the names by which C code reaches the members of a
// union or anonymous struct: its own member names, and those of anonymous
// structs and unions in it.
func (g *btfGen) unionNames(t *btf.Type) []string {
	var names []string
	for m := range g.spec.Fields(t) {
		names = append(names, m.Name)
	}
	return names
}

// field is one Go field of a struct being written, or only a comment
// when name is empty.
type field struct {
	name, tag, comment string
	typ                btf.GoType
	off                int // C byte offset
}

// structBody returns the Go struct literal for struct id and its Go
// alignment.
func (g *btfGen) structBody(id btf.TypeID, depth int) (string, int, error) {
	if b, ok := g.bodies[id]; ok {
		return b.text, b.align, nil
	}
	if depth > btf.MaxDepth {
		return "", 0, fmt.Errorf("structs nest too deeply")
	}
	text, align, err := g.writeStructBody(id, depth)
	if err != nil {
		return "", 0, err
	}
	if len(text) > maxBody {
		// Anonymous structs used more than once are written out each
		// time; BTF can make that exponential.
		return "", 0, fmt.Errorf("%s: the Go declaration would exceed %d bytes", g.spec.Name(id), maxBody)
	}
	if g.bodies == nil {
		g.bodies = map[btf.TypeID]body{}
	}
	g.bodies[id] = body{text, align}
	return text, align, nil
}

// maxBody bounds the text of one struct declaration.
const maxBody = 1 << 20

type body struct {
	text  string
	align int
}

func (g *btfGen) writeStructBody(id btf.TypeID, depth int) (string, int, error) {
	t, _ := g.spec.Type(id)
	members, err := g.members(id, 0, depth)
	if err != nil {
		return "", 0, err
	}
	var fields []field
	names := map[string]bool{}
	for i := 0; i < len(members); i++ {
		m := members[i]
		if m.width != 0 {
			j := i + 1
			for j < len(members) && members[j].width != 0 {
				j++
			}
			fields = append(fields, g.bitfields(members[i:j], names))
			i = j - 1
			continue
		}
		gt, err := g.goType(m.Type, depth+1)
		if err != nil {
			return "", 0, fmt.Errorf("member %s: %w", m.Name, err)
		}
		if gt.Size == 0 {
			// A zero-length array (a marker, or a flexible array member)
			// holds no bytes: a comment stands in for it.
			fields = append(fields, field{off: int(m.BitOffset / 8), comment: m.Name + " " + g.spec.Name(m.Type) + ": no bytes, left out"})
			continue
		}
		f := field{typ: gt, off: int(m.BitOffset / 8), tag: m.Name}
		rid, _ := g.spec.Resolve(m.Type)
		if rt, _ := g.spec.Type(rid); rt.Kind == btf.KindStruct && m.Name == "" {
			sn := g.unionNames(rt)
			if len(sn) == 0 {
				return "", 0, fmt.Errorf("an anonymous struct without members")
			}
			f.tag = "struct(" + strings.Join(sn, ",") + ")"
		} else if rt.Kind == btf.KindUnion {
			un := g.unionNames(rt)
			if m.Name == "" {
				f.tag = "union(" + strings.Join(un, ",") + ")"
				f.comment = "union of " + strings.Join(un, ", ")
			} else {
				f.comment = "union " + m.Name + ": " + strings.Join(un, ", ")
			}
			if len(un) == 0 && m.Name == "" {
				return "", 0, fmt.Errorf("an anonymous union without members")
			}
		} else if rt.Kind == btf.KindPtr {
			f.comment = "C pointer " + g.spec.Name(m.Type)
		}
		goName := exported(m.Name)
		if kind, names, ok := strings.Cut(f.tag, "("); ok && m.Name == "" {
			// An anonymous union or struct, named after its first member.
			first, _, _ := strings.Cut(strings.TrimSuffix(names, ")"), ",")
			goName = exported(first) + exported(kind)
		}
		f.name = unique(names, goName)
		fields = append(fields, f)
	}
	for _, packed := range []bool{false, true} {
		// A data section's gaps are named fields, so that its Go memory
		// is its bytes whole (mapops.MemoryOf overlays the map).
		body, align, ok := layoutFields(fields, int(t.Size), packed, t.Kind == btf.KindDatasec)
		if ok {
			if packed {
				g.packed = true
			}
			return body, align, nil
		}
	}
	return "", 0, fmt.Errorf("members overlap: the C layout cannot be written as Go fields")
}

// bitfields returns the field that covers a run of bitfield members.
func (g *btfGen) bitfields(run []member, names map[string]bool) field {
	start := run[0].BitOffset / 8
	end := start
	var parts, cnames []string
	for _, m := range run {
		end = max(end, (m.BitOffset+m.width+7)/8)
		name := m.Name
		if name == "" {
			name = "_"
		}
		cnames = append(cnames, name)
		parts = append(parts, fmt.Sprintf("%s:%d:%d", name, m.BitOffset-8*start, m.width))
	}
	n := int(end - start)
	gt := btf.GoType{Expr: fmt.Sprintf("[%d]byte", n), Size: n, Align: 1}
	if (n == 1 || n == 2 || n == 4 || n == 8) && int(start)%n == 0 {
		gt = btf.GoType{Expr: btf.GoInt(n, false), Size: n, Align: n}
	}
	var goName string
	named := slices.DeleteFunc(cnames, func(s string) bool { return s == "_" })
	switch {
	case len(named) == 0:
		goName = "Bits"
	case len(named) <= 3:
		for _, c := range named {
			goName += exported(c)
		}
	default:
		goName = exported(named[0]) + "Bits"
	}
	var desc []string
	for _, m := range run {
		lo := m.BitOffset - 8*start
		bits := fmt.Sprintf("bits %d-%d", lo, lo+m.width-1)
		if m.width == 1 {
			bits = fmt.Sprintf("bit %d", lo)
		}
		desc = append(desc, fmt.Sprintf("%s (%s)", orUnnamed(m.Name), bits))
	}
	return field{
		name:    unique(names, goName),
		typ:     gt,
		off:     int(start),
		tag:     "bits(" + strings.Join(parts, ",") + ")",
		comment: "bitfields " + strings.Join(desc, ", "),
	}
}

func orUnnamed(s string) string {
	if s == "" {
		return "unnamed"
	}
	return s
}

// layoutFields writes the fields of a struct of the given C size, with
// explicit padding where Go's placement would differ from C's (or, with
// named, wherever there is a gap, as fields named after their offset); it
// fails when natural alignment cannot give the C offsets (then the
// struct must be packed).
func layoutFields(fields []field, size int, packed, named bool) (string, int, bool) {
	var sb strings.Builder
	sb.WriteString("struct {\n")
	if packed {
		sb.WriteString("_ structcodec.Packed\n")
	}
	cur, align := 0, 1
	taken := map[string]bool{}
	for _, f := range fields {
		taken[f.name] = true
	}
	pad := func(n int) {
		switch {
		case n <= 0:
		case named:
			fmt.Fprintf(&sb, "%s [%d]byte `btf:\"-\"` // no variable here\n", unique(taken, fmt.Sprintf("Gap%d", cur)), n)
		default:
			fmt.Fprintf(&sb, "_ [%d]byte\n", n)
		}
	}
	for _, f := range fields {
		if f.name == "" {
			fmt.Fprintf(&sb, "// %s\n", safe(f.comment))
			continue
		}
		a := f.typ.Align
		if packed {
			a = 1
		}
		natural := structcodec.AlignUp(cur, a)
		switch {
		case f.off == natural && !named:
		case f.off >= natural && f.off%a == 0:
			pad(f.off - cur)
		default:
			return "", 0, false
		}
		var tags []string
		if f.typ.Tag != "" {
			tags = append(tags, fmt.Sprintf("bpf:%q", f.typ.Tag))
		}
		tags = append(tags, fmt.Sprintf("btf:%q", safe(f.tag)))
		fmt.Fprintf(&sb, "%s %s `%s`", f.name, f.typ.Expr, strings.Join(tags, " "))
		if f.comment != "" {
			fmt.Fprintf(&sb, " // %s", safe(f.comment))
		}
		sb.WriteString("\n")
		cur = f.off + f.typ.Size
		align = max(align, a)
	}
	if cur > size {
		return "", 0, false
	}
	if structcodec.AlignUp(cur, align) != size || named {
		pad(size - cur)
		if structcodec.AlignUp(size, align) != size {
			return "", 0, false
		}
	}
	sb.WriteString("}")
	return sb.String(), align, true
}

// goType returns the Go type for the C type id.
func (g *btfGen) goType(id btf.TypeID, depth int) (btf.GoType, error) {
	if depth > btf.MaxDepth {
		return btf.GoType{}, fmt.Errorf("types nest too deeply")
	}
	t, err := g.spec.Type(id)
	if err != nil {
		return btf.GoType{}, err
	}
	switch t.Kind {
	case btf.KindTypedef:
		rid, err := g.spec.Resolve(id)
		if err != nil {
			return btf.GoType{}, err
		}
		rt, _ := g.spec.Type(rid)
		if rt.Kind == btf.KindInt && btf.BigEndianTypedef(t.Name) {
			gt, err := g.goType(rid, depth+1)
			gt.Tag = "be"
			return gt, err
		}
		if rt.Name == "" && (rt.Kind == btf.KindStruct || rt.Kind == btf.KindEnum || rt.Kind == btf.KindEnum64) {
			return g.named(id, rt)
		}
		return g.goType(t.Ref, depth+1)
	case btf.KindConst, btf.KindVolatile, btf.KindRestrict, btf.KindTypeTag:
		return g.goType(t.Ref, depth+1)
	case btf.KindInt, btf.KindFloat, btf.KindPtr:
		// __int128 and other widths Go lacks are bytes, aligned as bytes
		// are, so that explicit padding puts them where C does (16-byte
		// alignment for 128-bit integers).
		st, _ := btf.GoScalar(t)
		return st, nil
	case btf.KindArray:
		e, err := g.goType(t.Ref, depth+1)
		if err != nil {
			return btf.GoType{}, err
		}
		n := int(t.Len)
		if e.Char {
			return btf.GoType{Expr: fmt.Sprintf("[%d]byte", n), Tag: "cstring", Size: n, Align: 1}, nil
		}
		tag := e.Tag
		if tag == "cstring" {
			tag = "" // structcodec's cstring is for char[N] itself
		}
		return btf.GoType{Expr: fmt.Sprintf("[%d]%s", n, e.Expr), Tag: tag, Size: n * e.Size, Align: e.Align}, nil
	case btf.KindStruct:
		if t.Name != "" {
			return g.named(id, t)
		}
		body, align, err := g.structBody(id, depth+1)
		if err != nil {
			return btf.GoType{}, err
		}
		return btf.GoType{Expr: body, Size: int(t.Size), Align: align}, nil
	case btf.KindUnion:
		return btf.GoType{Expr: fmt.Sprintf("[%d]byte", t.Size), Size: int(t.Size), Align: 1}, nil
	case btf.KindEnum, btf.KindEnum64:
		if t.Name != "" {
			return g.named(id, t)
		}
		st, _ := btf.GoScalar(t)
		return st, nil
	}
	return btf.GoType{}, fmt.Errorf("%s has no data layout", g.spec.Name(id))
}

// named returns the Go type of a named struct or enum, declaring it.
func (g *btfGen) named(id btf.TypeID, t *btf.Type) (btf.GoType, error) {
	name, err := g.declare(id, "")
	if err != nil {
		return btf.GoType{}, err
	}
	size, err := g.spec.Size(id)
	if err != nil {
		return btf.GoType{}, err
	}
	align := int(size)
	if t.Kind == btf.KindStruct {
		rid, _ := g.spec.Resolve(id)
		align, err = g.structAlign(rid)
		if err != nil {
			return btf.GoType{}, err
		}
	}
	return btf.GoType{Expr: name, Size: int(size), Align: align}, nil
}

// structAlign returns the Go alignment of a named struct as it is
// written (explicit padding and packing can make it smaller than C's).
func (g *btfGen) structAlign(id btf.TypeID) (int, error) {
	if a, ok := g.aligns[id]; ok {
		if a == 0 {
			return 0, fmt.Errorf("%s contains itself", g.spec.Name(id))
		}
		return a, nil
	}
	if g.aligns == nil {
		g.aligns = map[btf.TypeID]int{}
	}
	g.aligns[id] = 0 // in progress
	_, align, err := g.structBody(id, 1)
	if err != nil {
		return 0, err
	}
	g.aligns[id] = align
	return align, nil
}
