package btf_test

import (
	"reflect"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

var allTwins = []any{
	FlowKey{}, Endpoint{}, Conn{}, Bucket{}, Hist{}, Packet{}, Session{}, Bits{}, TaskEvent{},
	TaskEventString{}, Hdr{}, Opts{}, Grid{}, Stats{}, Wrapper{}, WithBig{},
	struct{ A, B uint32 }{}, uint32(0), [3]int16{},
}

// The BTF that AddLayout writes for a Go type parses back to a type that
// has the Go type's size and alignment and that Check accepts against it;
// the kernel loads it.
func TestAddLayout(t *testing.T) {
	var b btf.Builder
	ids := make([]btf.TypeID, len(allTwins))
	layouts := make([]*structcodec.Layout, len(allTwins))
	for i, v := range allTwins {
		l, err := structcodec.Compile(reflect.TypeOf(v))
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = b.AddLayout(l); err != nil {
			t.Fatal(err)
		}
		layouts[i] = l
	}
	if again, _ := b.AddLayout(layouts[0]); again != ids[0] {
		t.Errorf("a second AddLayout of FlowKey gave type %d, the first %d", again, ids[0])
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layouts {
		size, _ := s.Size(ids[i])
		align, _ := s.Align(ids[i])
		if int(size) != l.Size() || int(align) != l.Align() {
			t.Errorf("%s: BTF size %d align %d, layout %d and %d", l.Type(), size, align, l.Size(), l.Align())
		}
		if err := btf.Check(l, s, ids[i]); err != nil {
			t.Errorf("%s against its own BTF: %v", l.Type(), err)
		}
	}
	if got := s.Name(ids[0]); got != "struct FlowKey" {
		t.Errorf("FlowKey's C name: %q", got)
	}

	// The kernel takes it (without Stats: BTF_KIND_FLOAT needs 5.13).
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	var kb btf.Builder
	for i, l := range layouts {
		if reflect.TypeOf(allTwins[i]) != reflect.TypeOf(Stats{}) {
			kb.AddLayout(l)
		}
	}
	raw, err = kb.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := sys.BTFLoad(raw)
	if err != nil {
		t.Fatalf("the kernel refuses AddLayout's BTF: %v", err)
	}
	fd.Close()
}
