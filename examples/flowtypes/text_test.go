package flowtypes_test

import (
	"bytes"
	"testing"

	"github.com/bpfmaps/bpfmaps/examples/flowtypes"
)

// TestFullCommWritesBack reads a flow_stats and an event whose char
// comm[16] fills all 16 bytes, as the kernel may hold it (a char[N] need
// not end with a NUL), and writes each back unchanged.
func TestFullCommWritesBack(t *testing.T) {
	src := bytes.Repeat([]byte{'x'}, 48)
	var st flowtypes.FlowStats
	if err := st.UnmarshalBPF(src); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, st.SizeBPF())
	if err := st.MarshalBPF(out); err != nil {
		t.Fatalf("flow_stats read from a map does not write back: %v", err)
	}
	var ev flowtypes.Event
	if err := ev.UnmarshalBPF(src); err != nil {
		t.Fatal(err)
	}
	out = make([]byte, ev.SizeBPF())
	if err := ev.MarshalBPF(out); err != nil {
		t.Fatalf("event read from a map does not write back: %v", err)
	}
	if !bytes.Equal(out[24:40], src[24:40]) {
		t.Fatalf("event comm wrote back % x, read % x", out[24:40], src[24:40])
	}
}
