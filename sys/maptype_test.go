package sys_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestMapTypeNames holds String and MapTypeByName to each other and to
// bpftool's spelling of a few types, and unknown numbers to "unknown(N)".
func TestMapTypeNames(t *testing.T) {
	for _, tc := range []struct {
		typ  sys.MapType
		name string
	}{
		{unix.BPF_MAP_TYPE_UNSPEC, "unspec"},
		{unix.BPF_MAP_TYPE_HASH, "hash"},
		{unix.BPF_MAP_TYPE_LRU_PERCPU_HASH, "lru_percpu_hash"},
		{unix.BPF_MAP_TYPE_CGRP_STORAGE, "cgrp_storage"},
		{33, "arena"},
		{34, "insn_array"},
		{35, "unknown(35)"},
		{1 << 31, "unknown(2147483648)"},
	} {
		if got := tc.typ.String(); got != tc.name {
			t.Errorf("MapType(%d).String() = %q, want %q", uint32(tc.typ), got, tc.name)
		}
		if got := fmt.Sprint(tc.typ); got != tc.name {
			t.Errorf("fmt.Sprint(MapType(%d)) = %q, want %q", uint32(tc.typ), got, tc.name)
		}
	}
	types := sys.MapTypes()
	if len(types) == 0 || types[0] != unix.BPF_MAP_TYPE_HASH {
		t.Fatalf("MapTypes() = %v, want hash first", types)
	}
	for i, typ := range types {
		f, ok := typ.Facts()
		if !ok || f.Name != typ.String() || f.Since == "" {
			t.Errorf("%d: Facts() = %+v, %v; want the name %q and a release", uint32(typ), f, ok, typ)
		}
		if back, ok := sys.MapTypeByName(typ.String()); !ok || back != typ {
			t.Errorf("MapTypeByName(%q) = %d, %v; want %d", typ, uint32(back), ok, uint32(typ))
		}
		if i > 0 && types[i-1] >= typ {
			t.Errorf("MapTypes() out of order at %d: %v", i, types)
		}
		// The rules agree with each other.
		switch {
		case (f.Value == sys.ValueFD) != (f.FDKind != ""):
			t.Errorf("%s: value rule %d with FDKind %q", typ, f.Value, f.FDKind)
		case f.Key == sys.KeyNone && f.Ops&(sys.OpLookup|sys.OpUpdate|sys.OpDelete|sys.OpNextKey) != 0:
			t.Errorf("%s: no key, yet keyed commands %#x", typ, f.Ops)
		case f.Instead == "" && f.Ops&(sys.OpLookup|sys.OpPeek) == 0:
			t.Errorf("%s: no element reads and nothing to use instead", typ)
		}
	}
	for _, name := range []string{"", "unknown(35)", "HASH", "nosuch"} {
		if typ, ok := sys.MapTypeByName(name); ok {
			t.Errorf("MapTypeByName(%q) = %d, true", name, uint32(typ))
		}
	}
	if f, ok := sys.MapType(unix.BPF_MAP_TYPE_UNSPEC).Facts(); ok {
		t.Errorf("unspec has facts: %+v", f)
	}
}

// TestHaveMapTypeNamesRelease checks that a kernel without a map type is
// told apart from a failed probe and named with the release that added
// the type (insn_array, 6.19, is the newest type with a probe).
func TestHaveMapTypeNamesRelease(t *testing.T) {
	testutil.RequireBPF(t)
	err := sys.HaveMapType(34)
	if err == nil {
		return // a kernel with insn_array
	}
	if !errors.Is(err, sys.ErrNotSupported) || !strings.Contains(err.Error(), "insn_array (Linux 6.19+)") {
		t.Errorf("HaveMapType(insn_array) = %v, want ErrNotSupported naming Linux 6.19", err)
	}
}

// errENOTSUPP is the kernel's internal ENOTSUPP, which some map commands
// let through to user space.
const errENOTSUPP = unix.Errno(524)

// unsupported reports whether err says that a command does not apply to
// the map's type. EINVAL says so too for some commands (delete on arrays,
// update on stack traces), but also answers bad arguments: a command the
// table lists may fail with EINVAL, one it does not list must fail with
// one of the three.
func unsupported(err error, orEINVAL bool) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, errENOTSUPP) || orEINVAL && errors.Is(err, unix.EINVAL)
}

// TestMapTypeOpsOnKernel creates a map of each type that user space can
// create alone and holds the table's element commands to the kernel: a
// command the table lists is not refused as unsupported (it may find
// nothing), one it does not list is. Batch commands are only held one
// way: the kernel's generic batch code accepts types whose walks do not
// survive deletes, which the table does not list.
func TestMapTypeOpsOnKernel(t *testing.T) {
	for _, attr := range mapKinds {
		f, ok := attr.MapType.Facts()
		if !ok {
			t.Fatalf("%s: no facts", attr.MapType)
		}
		t.Run(attr.MapType.String(), func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireFeature(t, func() error { return sys.HaveMapType(attr.MapType) })
			if f.FDKind == "map" {
				inner := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1})
				attr.InnerMapFD = uint32(inner.Int())
			}
			m := create(t, attr)
			var keyBuf, nextBuf [64]byte
			values := make([]byte, 1<<16) // room for a per-CPU value on any machine
			if f.Value == sys.ValueFD {
				binary.NativeEndian.PutUint32(values, math.MaxInt32) // a closed descriptor: EBADF
			}
			key, value, next := unsafe.Pointer(&keyBuf), unsafe.Pointer(&values[0]), unsafe.Pointer(&nextBuf)
			var token [64]byte
			check := func(op sys.MapOps, name string, err error) {
				t.Helper()
				switch claimed := f.Ops&op != 0; {
				case claimed && unsupported(err, false) && arrivedLater(attr.MapType, op):
					t.Logf("%s: %v: this kernel predates the command for %s", name, err, attr.MapType)
				case claimed && unsupported(err, false):
					t.Errorf("%s: %v, but the table says it applies", name, err)
				case !claimed && !unsupported(err, true) && op != sys.OpBatch:
					t.Errorf("%s: %v, but the table says it does not apply", name, err)
				}
			}
			if f.Key != sys.KeyNone {
				check(sys.OpUpdate, "update", sys.MapUpdateElem(m, key, value, unix.BPF_ANY))
				check(sys.OpLookup, "lookup", sys.MapLookupElem(m, key, value, 0))
				check(sys.OpNextKey, "next key", sys.MapGetNextKey(m, nil, next))
				check(sys.OpDelete, "delete", sys.MapDeleteElem(m, key))
				check(sys.OpBatch, "lookup batch", sys.MapLookupBatch(m, &sys.Batch{OutBatch: unsafe.Pointer(&token),
					Keys: unsafe.Pointer(&keyBuf), Values: value, Count: 1}))
			} else {
				check(sys.OpPush, "push", sys.MapUpdateElem(m, nil, value, unix.BPF_ANY))
				check(sys.OpPeek, "peek", sys.MapLookupElem(m, nil, value, 0))
				check(sys.OpPop, "pop", sys.MapLookupAndDeleteElem(m, nil, value, 0))
			}
		})
	}
}

// laterOps are element commands that reached a map type in a later
// release than the type itself: the table says what the newest kernels
// offer. Per-CPU arrays gained batch commands after 5.10: the kernel
// matrix's 5.10 refuses them with ENOTSUPP, its 6.1 accepts them, so the
// bound is the first release known to have them.
var laterOps = map[sys.MapType]struct {
	op           sys.MapOps
	major, minor int
}{
	unix.BPF_MAP_TYPE_PERCPU_ARRAY: {sys.OpBatch, 6, 1},
}

// arrivedLater reports whether op on t came after the running kernel.
func arrivedLater(t sys.MapType, op sys.MapOps) bool {
	l, ok := laterOps[t]
	if !ok || l.op != op {
		return false
	}
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	return major < l.major || major == l.major && minor < l.minor
}
