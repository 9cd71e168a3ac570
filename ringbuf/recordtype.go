package ringbuf

import (
	"fmt"
	"strings"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// CheckRecordType holds the Go type T, that the records of a ring are
// decoded into with structcodec, against the C type the BPF program
// writes, named cType ("event", "struct event" or a typedef) in the BTF
// of the object file obj (as `clang -g -target bpf` writes it). Call it
// once, before reading: records carry no type, and a Go field of the
// right size but the wrong kind (a uint8 where C has a 4-byte enum, the
// padding keeping the struct's size) otherwise decodes silently and
// wrongly. It returns nil when the layouts agree, and otherwise an error
// wrapping a *btf.MismatchError that names the first Go field and C
// member that differ.
func CheckRecordType[T any](obj, cType string) error {
	var zero T
	op := fmt.Sprintf("ringbuf: check record type %T against %s", zero, cType)
	c, err := structcodec.For[T]()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	spec, err := btf.LoadELFFile(obj)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	id, err := lookupType(spec, cType)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", op, obj, err)
	}
	if err := btf.Check(c.Layout(), spec, id); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// lookupType finds the C type named name: "struct x", "union x", or a
// bare name that one struct, union or typedef has.
func lookupType(spec *btf.Spec, name string) (btf.TypeID, error) {
	name = strings.TrimSpace(name)
	if rest, ok := strings.CutPrefix(name, "struct "); ok {
		return spec.Lookup(strings.TrimSpace(rest), btf.KindStruct)
	}
	if rest, ok := strings.CutPrefix(name, "union "); ok {
		return spec.Lookup(strings.TrimSpace(rest), btf.KindUnion)
	}
	var found []btf.TypeID
	for _, kind := range []btf.Kind{btf.KindStruct, btf.KindUnion, btf.KindTypedef} {
		if id, err := spec.Lookup(name, kind); err == nil {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("btf: no struct, union or typedef named %q", name)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("btf: %q names %d types: say \"struct %s\" or \"union %s\"", name, len(found), name, name)
}
