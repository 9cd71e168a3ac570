package btf_test

import (
	"sync"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/google/go-cmp/cmp"
)

// TestDecodeOneEqualsAll holds the two ways a type is decoded against each
// other: Type one by one, and All for every type at once. Both must see
// the same types, and a type once returned is the same one later.
func TestDecodeOneEqualsAll(t *testing.T) {
	raw := blob(t, everyKind()...)
	one, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	all, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for id, want := range all.All() {
		got, err := one.Type(id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("type %d decoded alone differs from All (-all +one):\n%s", id, diff)
		}
		if again, _ := all.Type(id); again != want {
			t.Errorf("type %d: Type returns another *Type than All did", id)
		}
		n++
	}
	if n != all.NumTypes() || n != len(everyKind()) {
		t.Errorf("All yields %d types, NumTypes %d, the blob holds %d", n, all.NumTypes(), len(everyKind()))
	}
}

// TestDecodeConcurrent decodes the same types from several goroutines at
// once, one by one and through All: under -race this shows the decode
// cache is safe for concurrent use, and every caller gets the same *Type.
func TestDecodeConcurrent(t *testing.T) {
	s, err := btf.Parse(blob(t, everyKind()...))
	if err != nil {
		t.Fatal(err)
	}
	const workers = 4
	got := make([][]*btf.Type, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := s.FirstID(); id <= s.MaxID(); id++ {
				ty, err := s.Type(id)
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], ty)
			}
			if w%2 == 0 {
				for range s.All() {
				}
			}
		}()
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		if len(got[w]) != len(got[0]) {
			t.Fatalf("goroutines 0 and %d decoded %d and %d types", w, len(got[0]), len(got[w]))
		}
		for i := range got[0] {
			if got[w][i] != got[0][i] {
				t.Fatalf("type %d: goroutines 0 and %d got different *Type", s.FirstID()+btf.TypeID(i), w)
			}
		}
	}
}
