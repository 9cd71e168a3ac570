package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// example is the directory of the worked example: C source, object and
// the Go file generated from it.
const example = "../../examples/flowtypes"

// exampleTypes are the C types of the example, as its go:generate line
// names them.
var exampleTypes = []string{"flow_key", "flow_stats", "path", "tagged_addr", "tcp_flags", "wire", "counters", "anon", "event", "wide", "ring_event"}

// kernelTypes are the vmlinux types held against their C layout.
var kernelTypes = []string{"ethhdr", "iphdr", "tcphdr", "sock_common", "bpf_map_info"}

// A cTwin is a generated Go type with the C type it was generated from.
type cTwin struct {
	cName  string // "struct flow_key"
	goName string
	layout *structcodec.Layout
}

// generateTwins generates Go types for the C types names in spec,
// type-checks the source, compiles each type's structcodec layout and
// holds it against the C type with btf.Check.
func generateTwins(t *testing.T, spec *btf.Spec, names []string) ([]byte, []cTwin) {
	t.Helper()
	req := btfRequest{spec: spec, pkg: "twins", command: "-test"}
	for _, n := range names {
		id, err := spec.TypeByName(n)
		if err != nil {
			t.Fatal(err)
		}
		req.ids = append(req.ids, id)
	}
	src, err := GenerateFromBTF(req)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := loadSource("twins", src)
	if err != nil {
		t.Fatalf("the generated code does not compile: %v\n%s", err, src)
	}
	var twins []cTwin
	for i, id := range req.ids {
		rid, _ := spec.Resolve(id)
		ct, _ := spec.Type(rid)
		goName := exported(names[i])
		_, l, err := lookup(pkg, nil, goName)
		if err != nil {
			t.Fatalf("%s: %v\n%s", goName, err, src)
		}
		// The BTF check of mapops.NewTyped accepts the generated type.
		if err := btf.Check(l, spec, id); err != nil {
			t.Errorf("btf.Check(%s, %s): %v", goName, spec.Name(id), err)
		}
		twins = append(twins, cTwin{cName: "struct " + ct.Name, goName: goName, layout: l})
	}
	return src, twins
}

// TestBTFTypesMatchC generates Go types from the BTF that clang wrote for
// the example's C types, and from the running kernel's BTF for ethhdr,
// iphdr, tcphdr, sock_common and bpf_map_info, and holds each against
// gcc: the size and the offset of every field of the Go type's
// structcodec layout equal gcc's sizeof and offsetof, and a value filled
// member by member in C has the bytes that encoding the same value filled
// field by field in Go gives.
func TestBTFTypesMatchC(t *testing.T) {
	requireGo(t)
	gcc := testutil.RequireTool(t, "gcc")
	t.Run("Fixtures", func(t *testing.T) {
		spec, err := btf.LoadFile(filepath.Join(example, "bpf", "flow.bpf.o"))
		if err != nil {
			t.Fatal(err)
		}
		_, twins := generateTwins(t, spec, exampleTypes)
		inc, err := filepath.Abs(filepath.Join(example, "bpf", "flow.h"))
		if err != nil {
			t.Fatal(err)
		}
		holdAgainstC(t, gcc, inc, twins)
	})
	t.Run("Kernel", func(t *testing.T) {
		bpftool := testutil.RequireTool(t, "bpftool")
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
			testutil.Skip(t, testutil.Kernel, "the kernel publishes no BTF of its own (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)")
		}
		spec, err := btf.LoadKernel()
		if err != nil {
			t.Fatal(err)
		}
		_, twins := generateTwins(t, spec, kernelTypes)
		// The C declarations come from bpftool (libbpf's BTF-to-C
		// dumper), not from this package: gcc lays them out.
		header, err := exec.Command(bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c").Output()
		if err != nil {
			t.Fatalf("bpftool btf dump: %v", err)
		}
		inc := filepath.Join(t.TempDir(), "vmlinux.h")
		if err := os.WriteFile(inc, header, 0o644); err != nil {
			t.Fatal(err)
		}
		holdAgainstC(t, gcc, inc, twins)
	})
}

// holdAgainstC writes a C program that includes header and, for each
// twin, prints sizeof, the offsetof of every Go field's C member and the
// bytes of a filled value; it fills the Go twin the same way and compares.
func holdAgainstC(t *testing.T, gcc, header string, twins []cTwin) {
	var c strings.Builder
	fmt.Fprintf(&c, "#include %q\nint printf(const char *, ...);\n\n", header)
	c.WriteString(`static void dump(const void *p, unsigned long size) {
	const unsigned char *b = p;
	for (unsigned long i = 0; i < size; i++)
		printf("%02x", b[i]);
	printf("\n");
}

int main(void) {
`)
	values := make([]reflect.Value, len(twins))
	offsets := make([][]int, len(twins))
	for i, tw := range twins {
		w := &filler{c: &c, cType: tw.cName}
		values[i] = reflect.New(tw.layout.Type()).Elem()
		fmt.Fprintf(&c, "\t{\n\tstatic %s v;\n\t__builtin_memset(&v, 0, sizeof v);\n", tw.cName)
		w.fill(tw.layout, values[i], "", 0)
		fmt.Fprintf(&c, "\tprintf(\"%%zu\\n\", sizeof v);\n\tprintf(\"offsets")
		for range w.offsets {
			c.WriteString(" %zu")
		}
		c.WriteString(`\n"`)
		for _, m := range w.members {
			fmt.Fprintf(&c, ", __builtin_offsetof(%s, %s)", tw.cName, m)
		}
		c.WriteString(");\n\tdump(&v, sizeof v);\n\t}\n")
		offsets[i] = w.offsets
	}
	c.WriteString("\treturn 0;\n}\n")

	dir := t.TempDir()
	cfile, bin := filepath.Join(dir, "twins.c"), filepath.Join(dir, "twins")
	if err := os.WriteFile(cfile, []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-std=gnu11", "-O0", "-w", "-o", bin, cfile).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("run the C program: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	next := func() string {
		if !sc.Scan() {
			t.Fatalf("the C program's output ends early:\n%s", out)
		}
		return sc.Text()
	}
	for i, tw := range twins {
		size, _ := strconv.Atoi(next())
		cOffsets := strings.Fields(next())[1:]
		cBytes := next()
		if tw.layout.Size() != size {
			t.Errorf("%s: Go %s is %d bytes, gcc says %d", tw.cName, tw.goName, tw.layout.Size(), size)
			continue
		}
		goOffsets := make([]string, len(offsets[i]))
		for j, o := range offsets[i] {
			goOffsets[j] = strconv.Itoa(o)
		}
		if got, want := strings.Join(goOffsets, " "), strings.Join(cOffsets, " "); got != want {
			t.Errorf("%s: Go field offsets %s, gcc %s", tw.cName, got, want)
			continue
		}
		buf := make([]byte, size)
		if err := tw.layout.EncodeValue(buf, values[i]); err != nil {
			t.Errorf("%s: encode: %v", tw.cName, err)
			continue
		}
		if got := hex.EncodeToString(buf); got != cBytes {
			t.Errorf("%s: Go bytes\n%s\nC bytes\n%s", tw.cName, got, cBytes)
			continue
		}
		back := reflect.New(tw.layout.Type())
		if err := tw.layout.DecodeValue(buf, back); err != nil {
			t.Errorf("%s: decode: %v", tw.cName, err)
		} else if !reflect.DeepEqual(back.Elem().Interface(), values[i].Interface()) {
			t.Errorf("%s: decoded %+v, want %+v", tw.cName, back.Elem(), values[i])
		}
		t.Logf("%s: %d bytes, %d offsets and the bytes of a filled value as gcc has them", tw.cName, size, len(cOffsets))
	}
}

// A filler writes C statements that fill a value member by member and
// fills the Go twin with the same values, collecting the C members whose
// offsets are compared.
type filler struct {
	c       *strings.Builder
	cType   string
	n       uint64   // values handed out
	members []string // C member designators, for offsetof
	offsets []int    // the Go offsets of the same members
}

// value returns the next test value, width bits wide and never 0.
func (w *filler) value(width int) uint64 {
	w.n++
	v := w.n*0x9E3779B97F4A7C15 ^ w.n<<7
	if width < 64 {
		v &= 1<<width - 1
	}
	if v == 0 {
		v = 1
	}
	return v
}

// fill walks the Go struct v (layout l) whose C counterpart is reached by
// the designator prefix (such as "peer." or "pts[2]."), at byte offset
// base of the outer value.
func (w *filler) fill(l *structcodec.Layout, v reflect.Value, prefix string, base int) {
	for _, f := range l.Fields() {
		if f.Name == "_" {
			continue
		}
		tag := v.Type().Field(f.Index).Tag.Get("btf")
		fv := v.Field(f.Index)
		off := base + f.Offset
		switch {
		case strings.HasPrefix(tag, "bits("):
			w.bitfields(fv, prefix, strings.TrimSuffix(strings.TrimPrefix(tag, "bits("), ")"))
		case strings.HasPrefix(tag, "struct("): // C reaches its members as the outer struct's
			w.fill(f.Layout, fv, prefix, off)
		case strings.HasPrefix(tag, "union("):
			first, _, _ := strings.Cut(strings.TrimPrefix(tag, "union("), ",")
			w.bytes(fv, prefix+strings.TrimSuffix(first, ")"), off, f.Size)
		default:
			w.member(f.Layout, fv, prefix+tag, off, f.BigEndian, f.CString)
		}
	}
}

// member fills one C member and its Go field.
func (w *filler) member(l *structcodec.Layout, fv reflect.Value, path string, off int, be, cstr bool) {
	w.members = append(w.members, path)
	w.offsets = append(w.offsets, off)
	switch fv.Kind() {
	case reflect.Struct:
		w.fill(l, fv, path+".", off)
	case reflect.Array:
		if fv.Type().Elem().Kind() == reflect.Uint8 {
			if cstr {
				text := fmt.Sprintf("t%d", w.value(16))
				text = text[:min(len(text), l.Size()-1)]
				fmt.Fprintf(w.c, "\t__builtin_memcpy(v.%s, %q, %d);\n", path, text, len(text))
				reflect.Copy(fv, reflect.ValueOf([]byte(text)))
				return
			}
			w.members, w.offsets = w.members[:len(w.members)-1], w.offsets[:len(w.offsets)-1]
			w.bytes(fv, path, off, l.Size())
			return
		}
		for i := range fv.Len() {
			e := l.Elem()
			w.member(e, fv.Index(i), fmt.Sprintf("%s[%d]", path, i), off+i*e.Size(), be, false)
		}
	case reflect.Bool:
		fmt.Fprintf(w.c, "\tv.%s = 1;\n", path)
		fv.SetBool(true)
	case reflect.Float32, reflect.Float64:
		fmt.Fprintf(w.c, "\tv.%s = 1.5;\n", path)
		fv.SetFloat(1.5)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		size := l.Size()
		x := w.value(8 * size)
		fmt.Fprintf(w.c, "\tv.%s = (__typeof__(v.%s))0x%xULL;\n", path, path, x)
		if be { // C stores x in host order; the Go field holds the number the bytes mean in network order
			x = bits.ReverseBytes64(x) >> (64 - 8*size)
		}
		if fv.CanInt() {
			fv.SetInt(int64(x<<(64-8*size)) >> (64 - 8*size))
		} else {
			fv.SetUint(x)
		}
	default:
		panic("unexpected kind " + fv.Kind().String())
	}
}

// bytes fills size bytes at the C member path (a union, or an array of
// bytes) with a pattern, through memcpy, and the Go byte array with the
// same pattern.
func (w *filler) bytes(fv reflect.Value, path string, off, size int) {
	w.members = append(w.members, path)
	w.offsets = append(w.offsets, off)
	pat := make([]byte, size)
	var lit strings.Builder
	for i := range pat {
		pat[i] = byte(w.value(8))
		fmt.Fprintf(&lit, "\\x%02x", pat[i])
	}
	fmt.Fprintf(w.c, "\t__builtin_memcpy((char *)&v + __builtin_offsetof(%s, %s), \"%s\", %d);\n", w.cType, path, lit.String(), size)
	reflect.Copy(fv, reflect.ValueOf(pat))
}

// bitfields assigns each bitfield member in C and sets the same bits of
// the covering Go field: "name:bit:width" entries, bits counted from the
// field's first byte, least significant first.
func (w *filler) bitfields(fv reflect.Value, prefix, spec string) {
	var cover []byte
	if fv.Kind() == reflect.Array {
		cover = make([]byte, fv.Len())
	} else {
		cover = make([]byte, fv.Type().Size())
	}
	for _, part := range strings.Split(spec, ",") {
		f := strings.Split(part, ":")
		bit, _ := strconv.Atoi(f[1])
		width, _ := strconv.Atoi(f[2])
		if f[0] == "_" {
			continue
		}
		x := w.value(width)
		fmt.Fprintf(w.c, "\tv.%s%s = 0x%xULL;\n", prefix, f[0], x)
		for k := range width {
			if x>>k&1 != 0 {
				cover[(bit+k)/8] |= 1 << ((bit + k) % 8)
			}
		}
	}
	if fv.Kind() == reflect.Array {
		reflect.Copy(fv, reflect.ValueOf(cover))
		return
	}
	var n uint64
	for i := len(cover) - 1; i >= 0; i-- {
		n = n<<8 | uint64(cover[i])
	}
	fv.SetUint(n)
}

// TestEveryKernelStruct generates Go types for every named struct of the
// running kernel's BTF in one file (on the host: 9596 structs, with the
// unions, enums and typedef'd structs they use): the file type-checks,
// and each struct's Go type passes btf.Check against its C type.
func TestEveryKernelStruct(t *testing.T) {
	requireGo(t)
	if testing.Short() {
		testutil.Skip(t, testutil.Short, "generates and type-checks some megabytes of Go")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		testutil.Skip(t, testutil.Kernel, "the kernel publishes no BTF of its own (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)")
	}
	spec, err := btf.LoadKernel()
	if err != nil {
		t.Fatalf("the kernel's BTF: %v", err)
	}
	var ids []btf.TypeID
	for id, ty := range spec.All() {
		if ty.Kind == btf.KindStruct && ty.Name != "" {
			ids = append(ids, id)
		}
	}
	src, names, err := generateFromBTF(btfRequest{spec: spec, pkg: "vmlinux", command: "-test", ids: ids})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := loadSource("vmlinux", src)
	if err != nil {
		t.Fatalf("the generated code does not compile: %v", err)
	}
	failed := 0
	for _, id := range ids {
		_, l, err := lookup(pkg, nil, names[id])
		if err == nil {
			err = btf.Check(l, spec, id)
		}
		if err != nil {
			if failed++; failed <= 10 {
				t.Errorf("%s (Go %s): %v", spec.Name(id), names[id], err)
			}
		}
	}
	t.Logf("%d structs, %d bytes of Go, %d failed", len(ids), len(src), failed)
}

// exampleBTF returns the raw .BTF section of the example's object.
func exampleBTF(t testing.TB) []byte {
	f, err := elf.Open(filepath.Join(example, "bpf", "flow.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := f.Section(".BTF").Data()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// FuzzGenerateFromBTF generates Go types for every struct, union and enum
// of arbitrary BTF: errors are fine, panics and endless loops are not,
// and what is generated is gofmt'ed Go that type-checks.
func FuzzGenerateFromBTF(f *testing.F) {
	f.Add(exampleBTF(f))
	f.Fuzz(func(t *testing.T, raw []byte) {
		spec, err := btf.Parse(raw)
		if err != nil {
			return
		}
		n := 0
		for id, ty := range spec.All() {
			switch ty.Kind {
			case btf.KindStruct, btf.KindUnion, btf.KindEnum, btf.KindEnum64:
			default:
				continue
			}
			if n++; n > 50 {
				return
			}
			req := btfRequest{spec: spec, pkg: "fuzz", command: "-fuzz", ids: []btf.TypeID{id}, names: []string{"T"}}
			src, err := GenerateFromBTF(req)
			if err != nil {
				if strings.Contains(err.Error(), "format the generated code") {
					t.Fatalf("type %d: %v", id, err)
				}
				continue
			}
			if _, err := loadSource("fuzz", src); err != nil {
				t.Fatalf("type %d: the generated code does not compile: %v\n%s", id, err, src)
			}
		}
	})
}
