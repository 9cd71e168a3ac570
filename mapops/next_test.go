package mapops_test

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
)

// TestTypedNextKey walks a map one typed step at a time: nil gives the
// first key, each key the next, and the last key ok == false. The steps
// visit every key once, as Keys does, with struct keys decoded.
func TestTypedNextKey(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 16, ValueSize: 8, MaxEntries: 16, Name: "next_key"})
	tm := typed[Flow, uint64](t, m)
	if k, ok, err := tm.NextKey(nil); ok || err != nil {
		t.Fatalf("NextKey(nil) of an empty map = %+v, %v, %v; want false, nil", k, ok, err)
	}
	var want []uint16
	for i := range uint16(5) {
		if err := tm.Update(Flow{SrcPort: 1000 + i, Proto: 6}, uint64(i), mapops.Any); err != nil {
			t.Fatal(err)
		}
		want = append(want, 1000+i)
	}
	var got []uint16
	var key *Flow
	for range 10 {
		k, ok, err := tm.NextKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if k.Proto != 6 {
			t.Errorf("key %+v was not decoded", k)
		}
		got = append(got, k.SrcPort)
		key = &k
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("NextKey walk gave ports %v, want %v", got, want)
	}

	a := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4, Name: "next_array"})
	ta := typed[uint32, uint64](t, a)
	if k, ok, err := ta.NextKey(nil); k != 0 || !ok || err != nil {
		t.Errorf("array NextKey(nil) = %d, %v, %v; want 0", k, ok, err)
	}
	two := uint32(2)
	if k, ok, err := ta.NextKey(&two); k != 3 || !ok || err != nil {
		t.Errorf("array NextKey(2) = %d, %v, %v; want 3", k, ok, err)
	}
	last := uint32(3)
	if k, ok, err := ta.NextKey(&last); ok || err != nil {
		t.Errorf("array NextKey(3) = %d, %v, %v; want false, nil after the last index", k, ok, err)
	}
	a.Close()
	if _, _, err := ta.NextKey(nil); err == nil {
		t.Error("NextKey on a closed map succeeded")
	}
}
