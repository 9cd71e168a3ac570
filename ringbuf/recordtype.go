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
	id, err := spec.TypeByName(strings.TrimSpace(cType))
	if err != nil {
		return fmt.Errorf("%s: %s: %w", op, obj, err)
	}
	if err := btf.Check(c.Layout(), spec, id); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
