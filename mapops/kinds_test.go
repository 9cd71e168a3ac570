package mapops_test

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// sample is a queue element whose C layout differs from Go's (a
// big-endian field), so it goes through the codec.
type sample struct {
	Seq  uint32
	Port uint16 `bpf:"be"`
	Kind uint16
}

func TestQueueAndStack(t *testing.T) {
	for _, tc := range []struct {
		typ  sys.MapType
		want []uint32 // Seq in pop order after pushing 1, 2, 3
	}{
		{unix.BPF_MAP_TYPE_QUEUE, []uint32{1, 2, 3}},
		{unix.BPF_MAP_TYPE_STACK, []uint32{3, 2, 1}},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			start(t)
			m := create(t, mapops.Spec{Type: tc.typ, ValueSize: 8, MaxEntries: 3})
			q, err := mapops.NewQueue[sample](m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := q.Pop(); !errors.Is(err, sys.ErrEmpty) || !errors.Is(err, unix.ENOENT) {
				t.Errorf("pop of an empty map: %v, want ErrEmpty", err)
			}
			if _, err := q.Peek(); !errors.Is(err, sys.ErrEmpty) {
				t.Errorf("peek of an empty map: %v, want ErrEmpty", err)
			}
			for seq := uint32(1); seq <= 3; seq++ {
				if err := q.Push(sample{Seq: seq, Port: 443, Kind: 7}, mapops.Any); err != nil {
					t.Fatal(err)
				}
			}
			if err := q.Push(sample{Seq: 4}, mapops.Any); !errors.Is(err, sys.ErrFull) {
				t.Errorf("push to a full map: %v, want ErrFull", err)
			}
			// The port is in network order in the map: the bytes show it.
			raw := make([]byte, 8)
			if err := m.Peek(raw); err != nil || raw[4] != 0x01 || raw[5] != 0xbb {
				t.Errorf("raw peek: % x, %v; want the port 443 big-endian at bytes 4-5", raw, err)
			}
			if v, err := q.Peek(); err != nil || v.Seq != tc.want[0] || v.Port != 443 || v.Kind != 7 {
				t.Errorf("peek: %+v, %v", v, err)
			}
			var got []uint32
			for range 3 {
				v, err := q.Pop()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v.Seq)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pop order (-want +got):\n%s", diff)
			}
			// Exist makes room by dropping the oldest element.
			for seq := uint32(1); seq <= 4; seq++ {
				if err := q.Push(sample{Seq: seq}, mapops.Exist); err != nil {
					t.Fatalf("push %d with Exist: %v", seq, err)
				}
			}
			if v, err := q.Peek(); err != nil || v.Seq != map[sys.MapType]uint32{unix.BPF_MAP_TYPE_QUEUE: 2, unix.BPF_MAP_TYPE_STACK: 4}[tc.typ] {
				t.Errorf("peek after an overflowing push: %+v, %v", v, err)
			}
		})
	}
}

func TestQueueRefusesOtherMaps(t *testing.T) {
	start(t)
	h := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if _, err := mapops.NewQueue[uint64](h); err == nil || !strings.Contains(err.Error(), "not a queue or stack") {
		t.Errorf("NewQueue on a hash map: %v", err)
	}
	q := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 1})
	if _, err := mapops.NewQueue[uint32](q); err == nil || !strings.Contains(err.Error(), "uint32 is 4 bytes, the map's values are 8") {
		t.Errorf("NewQueue with the wrong value size: %v", err)
	}
}

func TestPerCPU(t *testing.T) {
	for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_PERCPU_HASH, unix.BPF_MAP_TYPE_PERCPU_ARRAY, unix.BPF_MAP_TYPE_LRU_PERCPU_HASH} {
		t.Run(typ.String(), func(t *testing.T) {
			start(t)
			m := create(t, mapops.Spec{Type: typ, KeySize: 4, ValueSize: 12, MaxEntries: 4})
			tm := typed[uint32, [3]uint32](t, m)
			ncpu := tm.PossibleCPUs()
			vals := make([][3]uint32, ncpu)

			// One value for every CPU.
			if err := tm.UpdatePerCPU(1, [][3]uint32{{1, 2, 3}}, mapops.Any); err != nil {
				t.Fatal(err)
			}
			if err := tm.LookupPerCPU(1, vals); err != nil {
				t.Fatal(err)
			}
			for cpu, v := range vals {
				if v != [3]uint32{1, 2, 3} {
					t.Errorf("CPU %d: %v after a one-for-all update", cpu, v)
				}
			}
			// One value per CPU.
			for cpu := range vals {
				vals[cpu] = [3]uint32{uint32(cpu), uint32(cpu) * 10, 7}
			}
			if err := tm.UpdatePerCPU(2, vals, mapops.Any); err != nil {
				t.Fatal(err)
			}
			got := make([][3]uint32, ncpu)
			if err := tm.LookupPerCPU(2, got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(vals, got); diff != "" {
				t.Errorf("per-CPU values (-want +got):\n%s", diff)
			}
			// AllPerCPU walks the map with every CPU's value; All refuses.
			walked := map[uint32][][3]uint32{}
			all, errf := tm.AllPerCPU()
			for k, vs := range all {
				walked[k] = slices.Clone(vs)
			}
			if err := errf(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(vals, walked[2]); diff != "" {
				t.Errorf("AllPerCPU: key 2 (-want +got):\n%s", diff)
			}
			if len(walked[1]) != ncpu || walked[1][ncpu-1] != [3]uint32{1, 2, 3} {
				t.Errorf("AllPerCPU: key 1: %v", walked[1])
			}
			plain, perr := tm.All()
			for range plain {
				t.Error("All yielded a per-CPU entry")
			}
			if err := perr(); err == nil || !strings.Contains(err.Error(), "AllPerCPU") {
				t.Errorf("All on a per-CPU map: %v, want an error pointing to AllPerCPU", err)
			}
			// The lookup fills the caller's slice without allocating.
			checkNoAllocs(t, "LookupPerCPU", func() { tm.LookupPerCPU(2, got) })
			// Wrong slice lengths are refused before the system call.
			if err := tm.LookupPerCPU(2, got[:ncpu-1]); ncpu > 1 && err == nil {
				t.Error("LookupPerCPU into a short slice succeeded")
			}
			if err := tm.UpdatePerCPU(2, make([][3]uint32, ncpu+1), mapops.Any); err == nil {
				t.Error("UpdatePerCPU with one value too many succeeded")
			}
			// The bytes level uses 8-byte slots per CPU.
			buf := make([]byte, m.ValueBufferSize())
			if len(buf) != ncpu*sys.ValueStride(12) {
				t.Errorf("ValueBufferSize = %d, want %d CPUs x %d", len(buf), ncpu, sys.ValueStride(12))
			}
			key := nativeBytes(2, 4)
			if err := m.LookupPerCPU(key, buf); err != nil {
				t.Fatal(err)
			}
			last := buf[(ncpu-1)*16:]
			if binary.NativeEndian.Uint32(last) != uint32(ncpu-1) || binary.NativeEndian.Uint32(last[8:]) != 7 {
				t.Errorf("last CPU's slot: % x", last)
			}
			if err := m.Lookup(key, make([]byte, 12)); err == nil {
				t.Error("plain Lookup of a per-CPU map into one value's bytes succeeded")
			}
		})
	}
}

func TestMemory(t *testing.T) {
	start(t)
	testutil.RequireFeature(t, sys.HaveMmapableArray)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 10, Flags: unix.BPF_F_MMAPABLE})
	counters, err := mapops.MemoryOf[uint64](m)
	if err != nil {
		t.Fatal(err)
	}
	if len(counters) != 10 || !m.MemoryWritable() {
		t.Fatalf("MemoryOf: %d values, writable %v", len(counters), m.MemoryWritable())
	}
	// Writes through memory are what lookups see, and the other way round.
	counters[3] = 42
	if v, err := m.LookupInt(3); err != nil || v != 42 {
		t.Errorf("lookup after a write to memory: %d, %v", v, err)
	}
	if err := m.UpdateInt(4, 99, mapops.Any); err != nil {
		t.Fatal(err)
	}
	if counters[4] != 99 {
		t.Errorf("memory after an update: %d", counters[4])
	}
	if _, err := mapops.MemoryOf[uint32](m); err == nil {
		t.Error("MemoryOf[uint32] over 8-byte values succeeded")
	}
	// A writable mapping keeps the map from being frozen.
	if err := m.Freeze(); !errors.Is(err, unix.EBUSY) {
		t.Errorf("freeze with a writable mapping: %v, want EBUSY", err)
	}

	// Frozen before the first Memory: read-only.
	f := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 2, Flags: unix.BPF_F_MMAPABLE})
	if err := f.UpdateInt(1, 5, mapops.Any); err != nil {
		t.Fatal(err)
	}
	if err := f.Freeze(); err != nil {
		t.Fatal(err)
	}
	ro, err := mapops.MemoryOf[uint64](f)
	if err != nil {
		t.Fatal(err)
	}
	if f.MemoryWritable() || ro[1] != 5 {
		t.Errorf("frozen map: writable %v, value %d", f.MemoryWritable(), ro[1])
	}
	if !storeFaults(&ro[1]) {
		t.Error("a store into a frozen map's memory did not fault")
	}
	if err := f.UpdateInt(1, 6, mapops.Any); err == nil {
		t.Error("update of a frozen map succeeded")
	}

	plain := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	if _, err := plain.Memory(); err == nil || !strings.Contains(err.Error(), "BPF_F_MMAPABLE") {
		t.Errorf("Memory of an array without BPF_F_MMAPABLE: %v", err)
	}
	m.Close()
	if _, err := m.Memory(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Memory after Close: %v", err)
	}
}

// storeFaults stores into *p and reports whether that faulted.
func storeFaults(p *uint64) (faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { faulted = recover() != nil }()
	*p = 1
	return false
}

func TestMapOfMaps(t *testing.T) {
	for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, unix.BPF_MAP_TYPE_HASH_OF_MAPS} {
		t.Run(typ.String(), func(t *testing.T) {
			start(t)
			template := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4})
			outer := create(t, mapops.Spec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: template})
			inner := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4, Name: "inner"})
			if err := inner.UpdateInt(1, 77, mapops.Any); err != nil {
				t.Fatal(err)
			}
			key := nativeBytes(1, 4)
			if err := outer.SetInner(key, inner, mapops.Any); err != nil {
				t.Fatal(err)
			}
			if id, err := outer.InnerID(key); err != nil || id != inner.ID() {
				t.Errorf("InnerID = %d, %v; want %d", id, err, inner.ID())
			}
			got, err := outer.OpenInner(key)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if v, err := got.LookupInt(1); err != nil || v != 77 || got.Name() != "inner" {
				t.Errorf("inner map %s: %d, %v", got, v, err)
			}
			// An inner map of another shape is refused by the kernel.
			other := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 8, ValueSize: 8, MaxEntries: 4})
			if err := outer.SetInner(nativeBytes(0, 4), other, mapops.Any); err == nil {
				t.Error("SetInner with a map of another key size succeeded")
			}
			if err := outer.Delete(key); err != nil {
				t.Fatal(err)
			}
			if _, err := outer.OpenInner(key); !errors.Is(err, sys.ErrKeyNotExist) {
				t.Errorf("OpenInner of a deleted slot: %v", err)
			}
		})
	}
}

// TestBpftoolInterop holds mapops against a client nobody here wrote:
// Debian's bpftool creates, pins and writes a map that mapops reads, and
// reads back what mapops writes.
func TestBpftoolInterop(t *testing.T) {
	start(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	path := filepath.Join(testutil.BPFFS(t), "interop")
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(bpftool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("bpftool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	run("map", "create", path, "type", "hash", "key", "4", "value", "8", "entries", "16", "name", "interop")
	// bpftool reads and prints keys and values as the bytes in memory:
	// integers in host order, as C stores them.
	update := append([]string{"map", "update", "pinned", path, "key"}, byteArgs(nativeBytes(1, 4))...)
	update = append(append(update, "value"), byteArgs(nativeBytes(0x8000_0000_0000_2211, 8))...)
	run(update...)

	m, err := mapops.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Name() != "interop" || m.KeySize() != 4 || m.ValueSize() != 8 || m.MaxEntries() != 16 {
		t.Errorf("opened %s: sizes %d/%d, %d entries", m, m.KeySize(), m.ValueSize(), m.MaxEntries())
	}
	tm := typed[uint32, uint64](t, m)
	if v, err := tm.Lookup(1); err != nil || v != 0x8000_0000_0000_2211 {
		t.Errorf("value written by bpftool reads as %#x, %v", v, err)
	}

	if err := tm.Update(0x01020304, 0x0a0b0c0d0e0f1011, mapops.Any); err != nil {
		t.Fatal(err)
	}
	var dump []struct {
		Key   []string `json:"key"`
		Value []string `json:"value"`
	}
	if err := json.Unmarshal(run("-j", "map", "dump", "pinned", path), &dump); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range dump {
		got[hexBytes(t, e.Key)] = hexBytes(t, e.Value)
	}
	want := map[string]string{
		hex.EncodeToString(nativeBytes(1, 4)):          hex.EncodeToString(nativeBytes(0x8000_0000_0000_2211, 8)),
		hex.EncodeToString(nativeBytes(0x01020304, 4)): hex.EncodeToString(nativeBytes(0x0a0b0c0d0e0f1011, 8)),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bpftool map dump -j (-want +got):\n%s", diff)
	}
}

// byteArgs is b as bpftool's command line takes it: "0x01" "0x00" ….
func byteArgs(b []byte) []string {
	args := make([]string, len(b))
	for i, c := range b {
		args[i] = fmt.Sprintf("0x%02x", c)
	}
	return args
}

// hexBytes joins bpftool's ["0x01", "0x00", …] into "0100…".
func hexBytes(t *testing.T, bs []string) string {
	var sb strings.Builder
	for _, s := range bs {
		b, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 8)
		if err != nil {
			t.Fatalf("bpftool byte %q: %v", s, err)
		}
		sb.WriteString(strconv.FormatUint(b|0x100, 16)[1:])
	}
	return sb.String()
}
