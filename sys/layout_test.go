package sys_test

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	. "github.com/bpfmaps/bpfmaps/sys"
)

// cLayout names, for one Go mirror struct, the C aggregate and the C name
// of each of its named fields, in order.
type cLayout struct {
	goType reflect.Type
	cType  string   // "union bpf_attr" or "struct bpf_map_info"
	prefix string   // member path prefix inside cType, e.g. "batch."
	fields []string // C names of the Go struct's named fields, in order
}

var layouts = []cLayout{
	{reflect.TypeOf(MapCreateAttr{}), "union bpf_attr", "", []string{
		"map_type", "key_size", "value_size", "max_entries", "map_flags", "inner_map_fd", "numa_node",
		"map_name", "map_ifindex", "btf_fd", "btf_key_type_id", "btf_value_type_id",
		"btf_vmlinux_value_type_id", "map_extra"}},
	{reflect.TypeOf(MapElemAttr{}), "union bpf_attr", "", []string{"map_fd", "key", "value", "flags"}},
	{reflect.TypeOf(MapBatchAttr{}), "union bpf_attr", "batch.", []string{
		"in_batch", "out_batch", "keys", "values", "count", "map_fd", "elem_flags", "flags"}},
	{reflect.TypeOf(ProgLoadAttr{}), "union bpf_attr", "", []string{
		"prog_type", "insn_cnt", "insns", "license", "log_level", "log_size", "log_buf", "kern_version",
		"prog_flags", "prog_name", "prog_ifindex", "expected_attach_type", "prog_btf_fd",
		"func_info_rec_size", "func_info", "func_info_cnt", "line_info_rec_size", "line_info",
		"line_info_cnt", "attach_btf_id", "attach_prog_fd", "core_relo_cnt", "fd_array", "core_relos",
		"core_relo_rec_size"}},
	{reflect.TypeOf(ObjAttr{}), "union bpf_attr", "", []string{"pathname", "bpf_fd", "file_flags"}},
	{reflect.TypeOf(TestRunAttr{}), "union bpf_attr", "test.", []string{
		"prog_fd", "retval", "data_size_in", "data_size_out", "data_in", "data_out", "repeat", "duration",
		"ctx_size_in", "ctx_size_out", "ctx_in", "ctx_out", "flags", "cpu", "batch_size"}},
	{reflect.TypeOf(GetIDAttr{}), "union bpf_attr", "", []string{"start_id", "next_id", "open_flags"}},
	{reflect.TypeOf(InfoAttr{}), "union bpf_attr", "info.", []string{"bpf_fd", "info_len", "info"}},
	{reflect.TypeOf(BTFLoadAttr{}), "union bpf_attr", "", []string{
		"btf", "btf_log_buf", "btf_size", "btf_log_size", "btf_log_level"}},
	{reflect.TypeOf(MapInfo{}), "struct bpf_map_info", "", []string{
		"type", "id", "key_size", "value_size", "max_entries", "map_flags", "name", "ifindex",
		"btf_vmlinux_value_type_id", "netns_dev", "netns_ino", "btf_id", "btf_key_type_id",
		"btf_value_type_id", "map_extra"}},
	{reflect.TypeOf(BTFInfo{}), "struct bpf_btf_info", "", []string{
		"btf", "btf_size", "id", "name", "name_len", "kernel_btf"}},
}

// TestAttrLayoutMatchesKernelHeader compiles a C program against the
// system's linux/bpf.h and holds every Go mirror field's offset and size to
// what the C compiler says.
func TestAttrLayoutMatchesKernelHeader(t *testing.T) {
	if _, err := os.Stat("/usr/include/linux/bpf.h"); err != nil && !testutil.HaveCTwins() {
		testutil.RequireTool(t, "linux/bpf.h (linux-libc-dev)")
	}

	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <linux/bpf.h>\n")
	src.WriteString("#define F(T, m) printf(\"%s %s %zu %zu\\n\", #T, #m, offsetof(T, m), sizeof(((T *)0)->m));\n")
	src.WriteString("int main(void) {\n")
	for _, l := range layouts {
		for _, f := range l.fields {
			fmt.Fprintf(&src, "F(%s, %s%s)\n", l.cType, l.prefix, f)
		}
	}
	src.WriteString("return 0; }\n")

	out := testutil.RunC(t, src.String())

	type offSize struct{ off, size uintptr }
	c := map[string]offSize{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// "union bpf_attr batch.count 32 4"
		f := strings.Fields(sc.Text())
		off, _ := strconv.ParseUint(f[len(f)-2], 10, 64)
		size, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
		c[strings.Join(f[:len(f)-2], " ")] = offSize{uintptr(off), uintptr(size)}
	}

	for _, l := range layouts {
		var named []reflect.StructField
		for i := range l.goType.NumField() {
			if f := l.goType.Field(i); f.Name != "_" {
				named = append(named, f)
			}
		}
		if len(named) != len(l.fields) {
			t.Errorf("%s: %d named Go fields, %d C fields in the table", l.goType.Name(), len(named), len(l.fields))
			continue
		}
		var end uintptr
		for i, gf := range named {
			key := l.cType + " " + l.prefix + l.fields[i]
			want, ok := c[key]
			if !ok {
				t.Errorf("no C result for %s", key)
				continue
			}
			if gf.Offset != want.off || gf.Type.Size() != want.size {
				t.Errorf("%s.%s: Go offset %d size %d, C (%s) offset %d size %d",
					l.goType.Name(), gf.Name, gf.Offset, gf.Type.Size(), key, want.off, want.size)
			}
			end = max(end, want.off+want.size)
		}
		a := uintptr(l.goType.Align())
		if wantSize := (end + a - 1) / a * a; l.goType.Size() != wantSize {
			t.Errorf("%s: Go size %d, C members end at %d (rounded %d)", l.goType.Name(), l.goType.Size(), end, wantSize)
		}
	}
}
