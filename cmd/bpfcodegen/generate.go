package main

import (
	"bytes"
	"fmt"
	"go/format"
	"go/types"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// Generate returns the source of a file with MarshalBPF, UnmarshalBPF and
// SizeBPF methods for the named types of the package in dir.
func Generate(dir string, names []string) ([]byte, error) {
	pkg, loadErr := load(dir)
	if pkg == nil {
		return nil, loadErr
	}
	g := &generator{pkg: pkg, imports: map[string]string{}}
	for _, name := range names {
		obj, l, err := lookup(pkg, loadErr, name)
		if err != nil {
			return nil, err
		}
		g.typ(obj, l)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s -type %s; DO NOT EDIT.\n\npackage %s\n", generatedHeader, strings.Join(names, ","), pkg.Name())
	g.imports[structcodecPath] = "structcodec"
	writeImports(&out, g.imports)
	out.Write(g.buf.Bytes())
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format the generated code: %v\n%s", err, out.Bytes())
	}
	return src, nil
}

// writeImports writes an import declaration for imports (path -> name),
// the standard library first.
func writeImports(out *bytes.Buffer, imports map[string]string) {
	if len(imports) == 0 {
		return
	}
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		si, sj := !strings.Contains(paths[i], "."), !strings.Contains(paths[j], ".")
		if si != sj {
			return si
		}
		return paths[i] < paths[j]
	})
	out.WriteString("\nimport (\n")
	for i, p := range paths {
		if i > 0 && strings.Contains(p, ".") && !strings.Contains(paths[i-1], ".") {
			out.WriteString("\n")
		}
		fmt.Fprintf(out, "\t%q\n", p)
	}
	out.WriteString(")\n")
}

type generator struct {
	pkg     *types.Package
	imports map[string]string // path -> name
	buf     bytes.Buffer
	loops   int // loop variables in use
}

func (g *generator) printf(format string, args ...any) { fmt.Fprintf(&g.buf, format, args...) }

func (g *generator) use(path string) string {
	name := path[strings.LastIndex(path, "/")+1:]
	g.imports[path] = name
	return name
}

// typeExpr spells t in the generated file, importing its package if needed.
func (g *generator) typeExpr(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == g.pkg {
			return ""
		}
		return g.use(p.Path())
	})
}

// offset is a byte offset in the C bytes: a constant plus loop terms.
type offset struct {
	k     int
	terms string // e.g. "+12*i0"
}

func (o offset) add(n int) offset { return offset{o.k + n, o.terms} }

func (o offset) String() string {
	if o.terms == "" {
		return strconv.Itoa(o.k)
	}
	if o.k == 0 {
		return strings.TrimPrefix(o.terms, "+")
	}
	return strconv.Itoa(o.k) + o.terms
}

func (g *generator) typ(obj *types.TypeName, l *structcodec.Layout) {
	name, size := obj.Name(), l.Size()
	recv := "v"
	if _, ok := obj.Type().Underlying().(*types.Basic); ok {
		recv = "(*v)"
	}
	g.printf("\n// SizeBPF returns %d, the size of %s's C layout.\nfunc (%s) SizeBPF() int { return %d }\n", size, name, name, size)

	g.printf("\n// MarshalBPF writes the %d bytes of v's C layout to dst.\nfunc (v *%s) MarshalBPF(dst []byte) error {\n", size, name)
	if size > 0 { // a zero-size layout fits any buffer
		g.printf("if len(dst) < %d {\nreturn &%s.ShortBufferError{Op: \"encode\", Type: %q, Len: len(dst), Need: %d}\n}\n", size, g.use(structcodecPath), name, size)
		g.printf("dst = dst[:%d]\n", size)
	}
	g.check(l, obj.Type(), false, recv, name)
	g.encode(l, obj.Type(), false, false, recv, offset{}, name)
	g.printf("return nil\n}\n")

	g.printf("\n// UnmarshalBPF sets v from the %d bytes of its C layout in src.\nfunc (v *%s) UnmarshalBPF(src []byte) error {\n", size, name)
	if size > 0 {
		g.printf("if len(src) < %d {\nreturn &%s.ShortBufferError{Op: \"decode\", Type: %q, Len: len(src), Need: %d}\n}\n", size, g.use(structcodecPath), name, size)
		g.printf("src = src[:%d]\n", size)
	}
	g.decode(l, obj.Type(), false, false, recv, offset{}, name)
	g.printf("return nil\n}\n")
}

func isByte(t types.Type) bool { return types.Identical(t, types.Typ[types.Uint8]) }

// loop opens a loop over n elements of size bytes at off, and returns the
// index variable and the element's offset.
func (g *generator) loop(n, size int, off offset) (string, offset) {
	i := fmt.Sprintf("i%d", g.loops)
	g.loops++
	g.printf("for %s := range %d {\n", i, n)
	if size == 1 {
		return i, offset{off.k, off.terms + "+" + i}
	}
	return i, offset{off.k, fmt.Sprintf("%s+%d*%s", off.terms, size, i)}
}

func (g *generator) endLoop() {
	g.loops--
	g.printf("}\n")
}

// structFields walks a struct's fields and the padding around them.
func structFields(l *structcodec.Layout, t types.Type, off offset, field func(f structcodec.Field, ft *types.Var), pad func(from, to offset)) {
	st := t.Underlying().(*types.Struct)
	end := 0
	for _, f := range l.Fields() {
		if f.Offset > end {
			pad(off.add(end), off.add(f.Offset))
		}
		if f.Name == "_" {
			pad(off.add(f.Offset), off.add(f.Offset+f.Size))
		} else {
			field(f, st.Field(f.Index))
		}
		end = f.Offset + f.Size
	}
	if l.Size() > end {
		pad(off.add(end), off.add(l.Size()))
	}
}

func (g *generator) encode(l *structcodec.Layout, t types.Type, be, cstr bool, expr string, off offset, path string) {
	switch u := t.Underlying().(type) {
	case *types.Struct:
		structFields(l, t, off, func(f structcodec.Field, ft *types.Var) {
			g.encode(f.Layout, ft.Type(), f.BigEndian, f.CString, expr+"."+ft.Name(), off.add(f.Offset), path+"."+f.Name)
		}, func(from, to offset) {
			g.printf("clear(dst[%s:%s])\n", from, to)
		})
	case *types.Array:
		n, e := l.Len(), l.Elem()
		if isByte(u.Elem()) {
			g.printf("copy(dst[%s:%s], %s[:])\n", off, off.add(n), expr)
			return
		}
		if n == 0 {
			return
		}
		i, eoff := g.loop(n, e.Size(), off)
		g.encode(e, u.Elem(), be, false, expr+"["+i+"]", eoff, path+"[]")
		g.endLoop()
	case *types.Basic:
		g.encodeBasic(u, be, expr, off, path, l.Size())
	}
}

func (g *generator) order(be bool) string {
	if be {
		return g.use("encoding/binary") + ".BigEndian"
	}
	return g.use("encoding/binary") + ".NativeEndian"
}

func (g *generator) encodeBasic(u *types.Basic, be bool, expr string, off offset, path string, size int) {
	switch {
	case u.Kind() == types.String:
		start := off.String() + "+"
		if start == "0+" {
			start = ""
		}
		g.printf("clear(dst[%scopy(dst[%s:%s], %s):%s])\n", start, off, off.add(size), expr, off.add(size))
	case u.Kind() == types.Bool:
		g.printf("dst[%s] = 0\nif %s {\ndst[%s] = 1\n}\n", off, expr, off)
	case u.Kind() == types.Float32:
		g.printf("%s.PutUint32(dst[%s:], %s.Float32bits(float32(%s)))\n", g.order(false), off, g.use("math"), expr)
	case u.Kind() == types.Float64:
		g.printf("%s.PutUint64(dst[%s:], %s.Float64bits(float64(%s)))\n", g.order(false), off, g.use("math"), expr)
	case size == 1:
		g.printf("dst[%s] = byte(%s)\n", off, expr)
	default:
		g.printf("%s.PutUint%d(dst[%s:], uint%d(%s))\n", g.order(be), 8*size, off, 8*size, expr)
	}
}

func (g *generator) decode(l *structcodec.Layout, t types.Type, be, cstr bool, expr string, off offset, path string) {
	switch u := t.Underlying().(type) {
	case *types.Struct:
		structFields(l, t, off, func(f structcodec.Field, ft *types.Var) {
			g.decode(f.Layout, ft.Type(), f.BigEndian, f.CString, expr+"."+ft.Name(), off.add(f.Offset), path+"."+f.Name)
		}, func(from, to offset) {})
	case *types.Array:
		n, e := l.Len(), l.Elem()
		if isByte(u.Elem()) {
			g.printf("copy(%s[:], src[%s:%s])\n", expr, off, off.add(n))
			return
		}
		if n == 0 {
			return
		}
		i, eoff := g.loop(n, e.Size(), off)
		g.decode(e, u.Elem(), be, false, expr+"["+i+"]", eoff, path+"[]")
		g.endLoop()
	case *types.Basic:
		te := g.typeExpr(t)
		size := l.Size()
		switch {
		case u.Kind() == types.String:
			g.printf("{\nb := src[%s:%s]\nif i := %s.IndexByte(b, 0); i >= 0 {\nb = b[:i]\n}\n", off, off.add(size), g.use("bytes"))
			g.printf("if %s != %s(b) {\n%s = %s(b)\n}\n}\n", expr, te, expr, te)
		case u.Kind() == types.Bool:
			g.printf("%s = src[%s] != 0\n", expr, off)
		case u.Kind() == types.Float32:
			g.printf("%s = %s(%s.Float32frombits(%s.Uint32(src[%s:])))\n", expr, te, g.use("math"), g.order(false), off)
		case u.Kind() == types.Float64:
			g.printf("%s = %s(%s.Float64frombits(%s.Uint64(src[%s:])))\n", expr, te, g.use("math"), g.order(false), off)
		case size == 1:
			g.printf("%s = %s(src[%s])\n", expr, te, off)
		default:
			g.printf("%s = %s(%s.Uint%d(src[%s:]))\n", expr, te, g.order(be), 8*size, off)
		}
	}
}

// hasChecks reports whether values of l can fail to fit: strings, and
// arrays that must hold a NUL (nul).
func hasChecks(l *structcodec.Layout, nul bool) bool {
	switch {
	case l.Type().Kind() == reflect.String || nul:
		return true
	case l.Elem() != nil:
		return hasChecks(l.Elem(), false)
	}
	for _, f := range l.Fields() {
		if f.Name != "_" && hasChecks(f.Layout, f.NUL) {
			return true
		}
	}
	return false
}

// check writes the checks that every text field fits, in field order,
// before anything is written: on error dst is untouched, as with the
// runtime codec. nul asks for room for a NUL terminator.
func (g *generator) check(l *structcodec.Layout, t types.Type, nul bool, expr, path string) {
	if !hasChecks(l, nul) {
		return
	}
	sc := g.use(structcodecPath)
	switch u := t.Underlying().(type) {
	case *types.Struct:
		for _, f := range l.Fields() {
			if f.Name != "_" {
				ft := u.Field(f.Index)
				g.check(f.Layout, ft.Type(), f.NUL, expr+"."+ft.Name(), path+"."+f.Name)
			}
		}
	case *types.Array:
		n := l.Len()
		if nul {
			if isByte(u.Elem()) {
				g.printf("if %s.IndexByte(%s[:], 0) < 0 {\n", g.use("bytes"), expr)
			} else {
				g.printf("if !func() bool {\nfor _, c := range %s {\nif c == 0 {\nreturn true\n}\n}\nreturn false\n}() {\n", expr)
			}
			g.printf("return %s.UnterminatedError(%q, %d)\n}\n", sc, path, n)
			return
		}
		i, _ := g.loop(n, 0, offset{})
		g.check(l.Elem(), u.Elem(), false, expr+"["+i+"]", path+"[]")
		g.endLoop()
	case *types.Basic:
		size := l.Size()
		limit := size + 1 // the text may fill the field
		if nul {
			limit = size
		}
		g.printf("if len(%s) >= %d {\nreturn %s.StringTooLongError(%q, len(%s), %d)\n}\n", expr, limit, sc, path, expr, size)
		g.printf("if i := %s.IndexByte(string(%s), 0); i >= 0 {\nreturn %s.StringNULError(%q, i)\n}\n", g.use("strings"), expr, sc, path)
	}
}
