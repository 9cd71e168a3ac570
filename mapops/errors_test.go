package mapops_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// wantErr fails the test unless err wraps target (when not nil) and its
// message holds every part.
func wantErr(t *testing.T, what string, err, target error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("%s: %v does not wrap %v", what, err, target)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %q does not say %q", what, err, p)
		}
	}
}

// TestArrayIndexOutOfRange: writing past the end of an array is not "map
// is full" (the kernel's E2BIG) but an index out of range, at every level.
func TestArrayIndexOutOfRange(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4, Name: "small_array"})
	tm := typed[uint32, uint64](t, m)
	want := []string{m.String(), "update", "index 9 out of range (max_entries 4)"}
	err := tm.Update(9, 1, mapops.Any)
	wantErr(t, "Typed.Update", err, unix.E2BIG, want...)
	if errors.Is(err, sys.ErrFull) {
		t.Errorf("Typed.Update: %v says the array is full", err)
	}
	wantErr(t, "UpdateInt", m.UpdateInt(9, 1, mapops.Any), unix.E2BIG, want...)
	wantErr(t, "Update", m.Update(nativeBytes(9, 4), make([]byte, 8), mapops.Any), unix.E2BIG, want...)
	if err := tm.Update(3, 1, mapops.Any); err != nil {
		t.Errorf("the last index: %v", err)
	}
}

// TestNewTypedRefusesQueues: a queue or stack has no keys; NewTyped says so
// and points to NewQueue instead of giving a view whose every call fails.
func TestNewTypedRefusesQueues(t *testing.T) {
	start(t)
	for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK} {
		m := create(t, mapops.Spec{Type: typ, ValueSize: 8, MaxEntries: 4})
		_, err := mapops.NewTyped[uint32, uint64](m)
		wantErr(t, typ.String(), err, nil, m.String(), "NewQueue")
	}
}

// TestElementErrorsNameTheMap: errors the kernel gives as a bare errno name
// the map and the operation, and say what was wrong where that is known.
func TestElementErrorsNameTheMap(t *testing.T) {
	start(t)
	h := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4, Name: "flags_hash"})
	th := typed[uint32, uint64](t, h)
	wantErr(t, "unknown flag", th.Update(1, 1, 0x80), unix.EINVAL, h.String(), "update", "flags 0x80")
	wantErr(t, "NoExist|Exist", th.Update(1, 1, mapops.NoExist|mapops.Exist), unix.EINVAL, h.String(), "NoExist and Exist")
	wantErr(t, "bytes, unknown flag", h.Update(make([]byte, 4), make([]byte, 8), 0x80), unix.EINVAL, h.String(), "flags 0x80")

	a := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4, Name: "del_array"})
	ta := typed[uint32, uint64](t, a)
	wantErr(t, "Typed.Delete on an array", ta.Delete(1), unix.EINVAL, a.String(), "delete", "array")
	wantErr(t, "DeleteInt on an array", a.DeleteInt(1), unix.EINVAL, a.String(), "delete", "array")

	// The conditions callers test for keep their preallocated errors.
	if err := th.Delete(7); !errors.Is(err, sys.ErrKeyNotExist) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("Delete of a missing key: %v", err)
	}
}

// TestCreateNamesTheField: specs the kernel would refuse with a bare
// EINVAL are refused before the system call, naming the field at fault.
// No privilege is needed to see it: nothing reaches the kernel.
func TestCreateNamesTheField(t *testing.T) {
	hash := mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4}
	with := func(f func(*mapops.Spec)) mapops.Spec { s := hash; f(&s); return s }
	for _, c := range []struct {
		what string
		spec mapops.Spec
		want string
	}{
		{"zero key size", with(func(s *mapops.Spec) { s.KeySize = 0 }), "KeySize is 0"},
		{"zero value size", with(func(s *mapops.Spec) { s.ValueSize = 0 }), "ValueSize is 0"},
		{"zero max entries", with(func(s *mapops.Spec) { s.MaxEntries = 0 }), "MaxEntries is 0"},
		{"unknown flag", with(func(s *mapops.Spec) { s.Flags = 1 << 30 }), "Flags 0x40000000"},
		{"unknown type", with(func(s *mapops.Spec) { s.Type = 200 }), "Type 200"},
		{"unspec type", with(func(s *mapops.Spec) { s.Type = 0 }), "Type 0"},
		{"queue without values", mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, MaxEntries: 4}, "ValueSize is 0"},
		{"array of maps without InnerMap", mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 4}, "InnerMap is missing"},
		{"hash of maps without InnerMap", mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 4}, "InnerMap is missing"},
		{"ring of 5000 bytes", mapops.Spec{Type: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: 5000}, "MaxEntries 5000: a ringbuf map's size in bytes must be a power of two"},
		{"ring of 2 bytes", mapops.Spec{Type: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: 2}, "multiple of the page size"},
		{"ring with a value size", mapops.Spec{Type: unix.BPF_MAP_TYPE_RINGBUF, ValueSize: 8, MaxEntries: 1 << 16}, "ValueSize 8"},
		{"queue with a key size", mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, KeySize: 4, ValueSize: 8, MaxEntries: 4}, "KeySize is 4: a queue map has no keys"},
		{"stack with a key size", mapops.Spec{Type: unix.BPF_MAP_TYPE_STACK, KeySize: 4, ValueSize: 8, MaxEntries: 4}, "KeySize is 4: a stack map has no keys"},
		{"mmapable hash", with(func(s *mapops.Spec) { s.Flags = unix.BPF_F_MMAPABLE }), "BPF_F_MMAPABLE is for arrays"},
		{"RDONLY|WRONLY", with(func(s *mapops.Spec) { s.Flags = unix.BPF_F_RDONLY | unix.BPF_F_WRONLY }), "BPF_F_RDONLY and BPF_F_WRONLY exclude each other"},
		{"RDONLY_PROG|WRONLY_PROG", with(func(s *mapops.Spec) { s.Flags = unix.BPF_F_RDONLY_PROG | unix.BPF_F_WRONLY_PROG }), "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG"},
		{"array with 8-byte keys", mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 8, ValueSize: 8, MaxEntries: 4}, "KeySize is 8: a array map's keys are 4-byte indexes"},
		{"array without prealloc", mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4, Flags: unix.BPF_F_NO_PREALLOC}, "BPF_F_NO_PREALLOC is not for arrays"},
		{"lpm trie with prealloc", mapops.Spec{Type: unix.BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 8, MaxEntries: 4}, "needs BPF_F_NO_PREALLOC"},
		{"lpm trie with 4-byte keys", mapops.Spec{Type: unix.BPF_MAP_TYPE_LPM_TRIE, KeySize: 4, ValueSize: 8, MaxEntries: 4, Flags: unix.BPF_F_NO_PREALLOC}, "KeySize is 4: an lpm_trie key"},
		{"hash with 1 KiB keys", with(func(s *mapops.Spec) { s.KeySize = 1024 }), "KeySize is 1024: a hash map's keys are at most 512 bytes"},
		{"per-CPU value of 64 KiB", mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 64 << 10, MaxEntries: 4}, "ValueSize is 65536: a per-CPU value is at most 32768 bytes"},
		{"array of maps with 8-byte values", mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 8, MaxEntries: 4}, "ValueSize is 8: a array_of_maps map's values are 4-byte map descriptors"},
	} {
		m, err := mapops.Create(c.spec)
		if err == nil {
			m.Close()
		}
		wantErr(t, c.what, err, nil, "create", c.want)
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.E2BIG) {
			t.Errorf("%s: %v wraps neither EINVAL nor E2BIG, as the kernel's answer would", c.what, err)
		}
		var se *sys.Error
		if errors.As(err, &se) {
			t.Errorf("%s: %v came from the kernel, not from the check before it", c.what, err)
		}
	}
}

// TestCreateSaysWhatTheKernelMeans: the create errors only the kernel can
// find name the field at fault (a map of maps of maps, whose template is
// a map of maps) or say what the bare errno usually means (a map too large
// to allocate, an inner map unlike the template).
func TestCreateSaysWhatTheKernelMeans(t *testing.T) {
	start(t)
	inner := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 2, Name: "inner_tmpl"})
	outer := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: inner, Name: "outer"})
	_, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: outer})
	wantErr(t, "map of maps of maps", err, unix.EINVAL, "InnerMap is a array_of_maps map: maps of maps do not nest")

	big, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 64 << 20, MaxEntries: 1})
	if err == nil {
		big.Close()
	}
	wantErr(t, "64 MiB value", err, unix.E2BIG, "the map is too large", "ValueSize 67108864")

	other := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 16, MaxEntries: 2, Name: "inner_other"})
	err = outer.SetInner(nativeBytes(0, 4), other, mapops.Any)
	wantErr(t, "inner map unlike the template", err, unix.EINVAL, outer.String(), other.String(), "does not match the template")
	if err := outer.SetInner(nativeBytes(0, 4), inner, mapops.Any); err != nil {
		t.Errorf("the template itself: %v", err)
	}
}

// TestConditionsMatchAcrossLayers: one set of sentinels, in sys, matched
// with errors.Is at the syscall layer and at the map layer alike, beside
// the kernel's errno; the map layer's errors are *sys.OpError values that
// name the map and the operation once, and reporting a missed lookup
// allocates nothing.
func TestConditionsMatchAcrossLayers(t *testing.T) {
	start(t)
	h := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "cond_hash"})
	th := typed[uint32, uint64](t, h)
	q := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 1, Name: "cond_queue"})
	tq, err := mapops.NewQueue[uint64](q)
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Update(1, 1, mapops.Any); err != nil {
		t.Fatal(err)
	}
	if err := tq.Push(1, mapops.Any); err != nil {
		t.Fatal(err)
	}
	var v uint64
	k := uint32(2)
	for _, c := range []struct {
		what     string
		err      error
		sentinel error
		errno    unix.Errno
		msg      string
	}{
		{"sys lookup", sys.MapLookupElem(h.FD(), unsafe.Pointer(&k), unsafe.Pointer(&v), 0), sys.ErrKeyNotExist, unix.ENOENT, "map lookup: key does not exist"},
		{"lookup", th.Delete(2), sys.ErrKeyNotExist, unix.ENOENT, h.String() + ": delete: key does not exist"},
		{"update NoExist", th.Update(1, 1, mapops.NoExist), sys.ErrKeyExist, unix.EEXIST, h.String() + ": update: key already exists"},
		{"update Exist", th.Update(2, 1, mapops.Exist), sys.ErrKeyNotExist, unix.ENOENT, h.String() + ": update: key does not exist"},
		{"update full", th.Update(2, 1, mapops.Any), sys.ErrFull, unix.E2BIG, h.String() + ": update: map is full"},
		{"push full", tq.Push(2, mapops.Any), sys.ErrFull, unix.E2BIG, q.String() + ": push: map is full"},
	} {
		if !errors.Is(c.err, c.sentinel) || !errors.Is(c.err, c.errno) {
			t.Errorf("%s: %v does not wrap both %v and %v", c.what, c.err, c.sentinel, c.errno)
		}
		if c.err != nil && c.err.Error() != c.msg {
			t.Errorf("%s: %q, want %q", c.what, c.err, c.msg)
		}
	}
	if _, err := tq.Pop(); err != nil {
		t.Fatal(err)
	}
	_, err = tq.Pop()
	if !errors.Is(err, sys.ErrEmpty) || !errors.Is(err, unix.ENOENT) || errors.Is(err, sys.ErrKeyNotExist) {
		t.Errorf("pop of an empty queue: %v, want sys.ErrEmpty and ENOENT only", err)
	}
	var oe *sys.OpError
	if !errors.As(err, &oe) || oe.Object != q.String() || oe.Op != "pop" {
		t.Errorf("pop of an empty queue: %#v, want a *sys.OpError naming %s and pop", err, q)
	}
	checkNoAllocs(t, "missed lookup", func() { _, _ = th.Lookup(2) })

	if err := h.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := th.Update(1, 2, mapops.Any); !errors.Is(err, sys.ErrReadOnly) || !errors.Is(err, unix.EPERM) {
		t.Errorf("update of a frozen map: %v, want sys.ErrReadOnly and EPERM", err)
	}
	h.Close()
	if err := th.Update(1, 2, mapops.Any); !errors.Is(err, os.ErrClosed) || err.Error() != h.String()+": update: use of closed file descriptor" {
		t.Errorf("update of a closed map: %q, want os.ErrClosed, naming the map once", err)
	}
}
