package main

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// mapRef is how errors name the map with the given id: map 12 "counts"
// (hash).
func mapRef(id, name string, typ sys.MapType) string {
	return fmt.Sprintf("map %s %q (%s)", id, name, typ.String())
}

// failsNamingOnce is fails, and requires the map to be named exactly once.
func failsNamingOnce(t *testing.T, code int, ref string, msgs []string, args ...string) {
	t.Helper()
	_, errOut, got := cli(t, args...)
	if got != code {
		t.Errorf("bpfmaps %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), got, code, errOut)
		return
	}
	if n := strings.Count(errOut, ref); n != 1 {
		t.Errorf("bpfmaps %s: stderr names %s %d times, want once:\n%s", strings.Join(args, " "), ref, n, errOut)
	}
	for _, m := range msgs {
		if !strings.Contains(errOut, m) {
			t.Errorf("bpfmaps %s: stderr %q does not contain %q", strings.Join(args, " "), errOut, m)
		}
	}
}

// TestUnreadableMapTypes: dump, get and watch on a map whose elements no
// kernel lets user space read say so, and what to use instead, naming the
// map once. Before, a perf event array gave "operation not supported by
// this kernel for this map type" with the map named twice.
func TestUnreadableMapTypes(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	type mapCase struct {
		typ             sys.MapType
		key, value, max uint32
		instead         string
	}
	cases := []mapCase{
		{unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, "with a perf event reader"},
		{unix.BPF_MAP_TYPE_CGROUP_ARRAY, 4, 4, 2, "cgroup descriptors, which the kernel never returns to user space"},
	}
	if sys.HaveRingBuf() == nil {
		cases = append(cases, mapCase{unix.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, "use bpfmaps tail"})
	}
	if sys.HaveUserRingBuf() == nil {
		cases = append(cases, mapCase{unix.BPF_MAP_TYPE_USER_RINGBUF, 0, 0, 4096, "there is nothing to read"})
	}
	for _, c := range cases {
		name := uniqueName("cli_unrd")
		_, id := newMap(t, c.typ, name, c.key, c.value, c.max)
		ref := mapRef(id, name, c.typ)
		want := []string{"cannot be read element by element", c.instead}
		failsNamingOnce(t, 1, ref, append(want, ref+": dump: "), "dump", id)
		failsNamingOnce(t, 1, ref, append(want, ref+": get: "), "get", id, "u32:0")
		failsNamingOnce(t, 1, ref, append(want, ref+": watch: "), "watch", id, "u32:0", "--timeout", "1s")
	}
	// put cannot give a descriptor-valued map descriptors.
	name := uniqueName("cli_fdval")
	_, id := newMap(t, unix.BPF_MAP_TYPE_PROG_ARRAY, name, 4, 4, 2)
	ref := mapRef(id, name, unix.BPF_MAP_TYPE_PROG_ARRAY)
	failsNamingOnce(t, 1, ref, []string{"the values of a prog_array map are program descriptors"}, "put", id, "u32:0", "u32:1")
}

// TestErrorsNameTheMapOnce runs commands that fail in the kernel or in
// mapops (whose errors name the map too) and requires every message to
// name the map exactly once.
func TestErrorsNameTheMapOnce(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	hname, aname, qname := uniqueName("cli_once_h"), uniqueName("cli_once_a"), uniqueName("cli_once_q")
	_, hash := newMap(t, unix.BPF_MAP_TYPE_HASH, hname, 4, 4, 1)
	_, array := newMap(t, unix.BPF_MAP_TYPE_ARRAY, aname, 4, 4, 2)
	_, queue := newMap(t, unix.BPF_MAP_TYPE_QUEUE, qname, 0, 4, 1)
	href := mapRef(hash, hname, unix.BPF_MAP_TYPE_HASH)
	aref := mapRef(array, aname, unix.BPF_MAP_TYPE_ARRAY)
	qref := mapRef(queue, qname, unix.BPF_MAP_TYPE_QUEUE)
	ok(t, "put", hash, "u32:1", "u32:1")
	ok(t, "push", queue, "u32:1")
	for _, tc := range []struct {
		ref  string
		msg  string
		args []string
	}{
		{href, "get " + hostU32(2) + ": lookup: key does not exist", []string{"get", hash, "u32:2"}},
		{href, "put " + hostU32(2) + ": update: map is full", []string{"put", hash, "u32:2", "u32:1"}},
		{href, "del " + hostU32(2) + ": delete: key does not exist", []string{"del", hash, "u32:2"}},
		{href, "watch " + hostU32(2) + ": timed out after 100ms", []string{"watch", hash, "u32:2", "--timeout", "100ms"}},
		{aref, "put " + hostU32(5) + ": update: index 5 out of range", []string{"put", array, "u32:5", "u32:1"}},
		{aref, "del 00 00 00 00: delete: the elements of an array cannot be deleted", []string{"del", array, "u32:0"}},
		{aref, "pop: an array map is not a queue or stack", []string{"pop", array}},
		{qref, "push: queue is full", []string{"push", queue, "u32:2"}},
		{qref, "dump: a queue map has no keys to walk", []string{"dump", queue}},
		{hname, "", []string{"pin", hash, t.TempDir() + "/x"}},
	} {
		failsNamingOnce(t, 1, tc.ref, []string{tc.msg}, tc.args...)
	}
	ok(t, "freeze", hash)
	failsNamingOnce(t, 1, href, []string{"put " + hostU32(1) + ": update: operation not permitted: the map is frozen"}, "put", hash, "u32:1", "u32:2")
}

// hostU32 is v as the CLI prints a u32 key: its bytes in host order.
func hostU32(v uint32) string { return hexBytes(binary.NativeEndian.AppendUint32(nil, v)) }
