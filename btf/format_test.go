package btf

import (
	"debug/elf"
	"encoding/json"
	"testing"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// FuzzFormat formats arbitrary bytes as every type of arbitrary BTF:
// errors are fine, panics are not, and what is printed is valid JSON.
func FuzzFormat(f *testing.F) {
	// Seeds: the BTF of a Go layout, built here so the target also runs
	// where the repository's files are not (the kernel matrix's VMs), and
	// the example object's clang-built BTF where it is.
	raw := seedBTF(f)
	if ef, err := elf.Open("../examples/flowtypes/bpf/flow.bpf.o"); err == nil {
		if obj, err := ef.Section(".BTF").Data(); err == nil {
			f.Add(obj, []byte("\x01\x02\x03\x04bash\x00"))
		}
		ef.Close()
	}
	f.Add(raw, []byte("\x01\x02\x03\x04bash\x00\xff\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, raw, data []byte) {
		spec, err := Parse(raw)
		if err != nil {
			return
		}
		n := 0
		for id := range spec.All() {
			bt, err := NewFormatter(spec, id)
			if err != nil {
				continue
			}
			if n++; n > 100 {
				return
			}
			out, err := bt.Format(data)
			if err == nil && !json.Valid(out) {
				t.Fatalf("type %d (%s): invalid JSON %q", id, bt.name, out)
			}
		}
	})
}

// seedEvent has the kinds the formatter prints differently: integers of
// each width, a big-endian field, a C string, a bool and a nested array.
type seedEvent struct {
	PID   uint32
	Port  uint16 `bpf:"be"`
	OK    bool
	Comm  [16]byte `bpf:"cstring"`
	Times [2]uint64
	Delta int32
}

// seedBTF is the BTF of seedEvent's layout.
func seedBTF(f *testing.F) []byte {
	c, err := structcodec.For[seedEvent]()
	if err != nil {
		f.Fatal(err)
	}
	var b Builder
	if _, err := b.AddLayout(c.Layout()); err != nil {
		f.Fatal(err)
	}
	raw, err := b.Bytes()
	if err != nil {
		f.Fatal(err)
	}
	return raw
}
