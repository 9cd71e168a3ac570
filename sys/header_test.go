package sys_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestMapTypesMatchKernelHeader holds the names and numbers of the table
// to the installed uapi header's enum bpf_map_type: every type the header
// names, sys names the same (in bpftool's lower case). The table may know
// types newer than the header.
func TestMapTypesMatchKernelHeader(t *testing.T) {
	const header = "/usr/include/linux/bpf.h"
	src, err := os.ReadFile(header)
	if err != nil {
		testutil.Skip(t, testutil.NoTool, fmt.Sprintf("linux/bpf.h (linux-libc-dev) is not installed: %v", err))
	}
	enum, err := parseEnum(string(src), "bpf_map_type")
	if err != nil {
		t.Fatal(err)
	}
	if len(enum) < 10 {
		t.Fatalf("%s: enum bpf_map_type has only %d names: %v", header, len(enum), enum)
	}
	for name, n := range enum {
		if strings.HasPrefix(name, "__") || strings.HasSuffix(name, "_DEPRECATED") {
			continue // __MAX_BPF_MAP_TYPE; the deprecated spelling of an alias
		}
		want := strings.ToLower(strings.TrimPrefix(name, "BPF_MAP_TYPE_"))
		if got := sys.MapType(n).String(); got != want {
			t.Errorf("%s = %d: sys names %d %q, want %q", name, n, n, got, want)
		}
	}
}

// parseEnum returns the names and values of the C enum called name in
// src: values count up from the previous one, or are given as a number
// or an earlier name.
func parseEnum(src, name string) (map[string]uint64, error) {
	src = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`).ReplaceAllString(src, "")
	start := strings.Index(src, "enum "+name+" {")
	if start < 0 {
		return nil, fmt.Errorf("no enum %s", name)
	}
	body, _, ok := strings.Cut(src[start+len("enum "+name+" {"):], "}")
	if !ok {
		return nil, fmt.Errorf("enum %s does not end", name)
	}
	out := map[string]uint64{}
	next := uint64(0)
	for _, item := range strings.Split(body, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, val, hasVal := strings.Cut(item, "=")
		id, val = strings.TrimSpace(id), strings.TrimSpace(val)
		if hasVal {
			if v, ok := out[val]; ok {
				next = v
			} else if v, err := strconv.ParseUint(val, 0, 32); err == nil {
				next = v
			} else {
				return nil, fmt.Errorf("enum %s: %s: cannot read the value %q", name, id, val)
			}
		}
		out[id] = next
		next++
	}
	return out, nil
}
