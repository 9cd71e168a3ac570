package mapbtf

import (
	"debug/elf"
	"encoding/json"
	"testing"

	"github.com/bpfmaps/bpfmaps/structcodec/btf"
)

// FuzzFormat formats arbitrary bytes as every type of arbitrary BTF:
// errors are fine, panics are not, and what is printed is valid JSON.
func FuzzFormat(f *testing.F) {
	ef, err := elf.Open("../../../examples/flowtypes/bpf/flow.bpf.o")
	if err != nil {
		f.Fatal(err)
	}
	raw, err := ef.Section(".BTF").Data()
	ef.Close()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, []byte("\x01\x02\x03\x04bash\x00\xff\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, raw, data []byte) {
		spec, err := btf.Parse(raw)
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
