package main

import (
	"context"
	"fmt"
	"io"

	"github.com/bpfmaps/bpfmaps/btf"
)

// withBTF gives the key and value sides the map's BTF types where no
// --layout, --key-layout, --int, --key-int or --value-int says otherwise.
// A map without BTF keeps the sides as they are: hex bytes. So does a map
// whose BTF cannot be read, and then withBTF returns why, for the command
// to say so instead of falling back to hex in silence.
func withBTF(m *bpfMap, key, value *side) error {
	if (key.layout != nil || key.asInt) && (value.layout != nil || value.asInt) {
		return nil
	}
	types, err := btf.LoadMap(m.info)
	if err != nil {
		return needsSysAdmin(err, fmt.Sprintf("read btf id %d", m.info.BTFID), needBTFID)
	}
	attach := func(s *side, id btf.TypeID) {
		if s.layout != nil || s.asInt || id == 0 {
			return
		}
		bt, err := newBTFType(types.Spec, id)
		if err != nil || bt.size() != s.size {
			return // the kernel checks the sizes; this is BTF we cannot use
		}
		s.btf = bt
	}
	attach(key, types.Key)
	attach(value, types.Value)
	return nil
}

// printBTFInfo adds the map's BTF to info's table: the BTF object's id
// and the C types of keys and values.
func (m *bpfMap) printBTFInfo(w io.Writer) {
	if m.info.BTFID == 0 {
		return
	}
	fmt.Fprintf(w, "btf id:\t%d\n", m.info.BTFID)
	types, err := btf.LoadMap(m.info)
	if err != nil {
		fmt.Fprintf(w, "btf:\t%v\n", needsSysAdmin(err, fmt.Sprintf("read btf id %d", m.info.BTFID), needBTFID))
		return
	}
	for _, kv := range []struct {
		what string
		id   btf.TypeID
	}{{"key type", types.Key}, {"value type", types.Value}} {
		if kv.id != 0 {
			fmt.Fprintf(w, "%s:\t%s (btf type %d)\n", kv.what, types.Spec.Name(kv.id), kv.id)
		}
	}
}

// btfTypeNames returns the C names of the map's key and value types for
// info --json ("" when there are none).
func (m *bpfMap) btfTypeNames() (key, value string) {
	types, err := btf.LoadMap(m.info)
	if err != nil {
		return "", ""
	}
	if types.Key != 0 {
		key = types.Spec.Name(types.Key)
	}
	if types.Value != 0 {
		value = types.Spec.Name(types.Value)
	}
	return key, value
}

// btfType formats keys, values and records with their C type, as
// bpftool does; plain text output prints the same JSON on one line.
// The spec and id let keys and values be given as field=value pairs.
type btfType struct {
	*btf.Formatter
	spec *btf.Spec
	id   btf.TypeID
}

func newBTFType(spec *btf.Spec, id btf.TypeID) (*btfType, error) {
	f, err := btf.NewFormatter(spec, id)
	if err != nil {
		return nil, err
	}
	return &btfType{f, spec, id}, nil
}

func (bt *btfType) size() int { return bt.Size() }

// json is b for the "formatted" member of JSON output.
func (bt *btfType) json(b []byte) any {
	raw, err := bt.Format(b)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return raw
}

// text is b on one line: the JSON, or hex and the reason it could not be
// decoded.
func (bt *btfType) text(b []byte) string {
	raw, err := bt.Format(b)
	if err != nil {
		return hexBytes(b) + " (" + err.Error() + ")"
	}
	return string(raw)
}

// recordFormat decodes ring records for tail: a --layout or a C type.
type recordFormat interface {
	size() int
	text(b []byte) string
	json(b []byte) any
}

// recordBTF returns the formatter for tail --btf FILE --type NAME; ctx
// bounds reading and parsing the file.
func recordBTF(ctx context.Context, file, typeName string) (*btfType, error) {
	if file == "" || typeName == "" {
		return nil, usageError{"--btf and --type go together: --btf prog.bpf.o --type event"}
	}
	return loadBTFType(ctx, file, typeName)
}
