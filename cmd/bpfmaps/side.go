package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// formatFlags are the flags of every command that reads or writes keys
// and values: how to parse them and how to print them.
type formatFlags struct {
	asInt, keyInt, valueInt bool
	layout, keyLayout       string
	btfFile                 string
	valueType, keyType      string
	json                    bool
	timeout                 time.Duration // of the command, for the message when reading --btf takes longer
}

func addFormatFlags(fs *flag.FlagSet, withJSON bool) *formatFlags {
	f := new(formatFlags)
	fs.BoolVar(&f.asInt, "int", false, "keys and values are integers in host byte order sized to the map (input and output)")
	fs.BoolVar(&f.keyInt, "key-int", false, "the key is an integer in host byte order sized to the map's key")
	fs.BoolVar(&f.valueInt, "value-int", false, "the value is an integer in host byte order sized to the map's value")
	fs.StringVar(&f.layout, "layout", "", "value layout, e.g. 'pid:u32,comm:cstring[16],addr:be32' (grammar above)")
	fs.StringVar(&f.keyLayout, "key-layout", "", "key layout, same grammar as --layout")
	fs.StringVar(&f.btfFile, "btf", "", "take --type and --key-type from this BPF object or BTF file (for maps without BTF of their own)")
	fs.StringVar(&f.valueType, "type", "", "the C type of values in --btf, e.g. 'struct event'")
	fs.StringVar(&f.keyType, "key-type", "", "the C type of keys in --btf")
	if withJSON {
		fs.BoolVar(&f.json, "json", false, "print JSON (bpftool's shape: bytes as \"0x0a\" strings)")
	}
	return f
}

// side is how one half of an entry (the key or the value) is parsed and
// printed.
type side struct {
	what   string // "key" or "value"
	size   int
	asInt  bool
	layout *layout
	btf    *btfType // the map's C type, when it has BTF and no flag says otherwise
}

// sides builds the key and value sides for m from the flags, checking that
// layouts and types match the map's sizes; ctx bounds reading --btf.
func (f *formatFlags) sides(ctx context.Context, m *bpfMap) (key, value side, err error) {
	key = side{what: "key", size: int(m.info.KeySize), asInt: f.asInt || f.keyInt}
	value = side{what: "value", size: int(m.info.ValueSize), asInt: f.asInt || f.valueInt}
	if key.layout, err = parseLayoutFor(f.keyLayout, key, m); err != nil {
		return
	}
	if value.layout, err = parseLayoutFor(f.layout, value, m); err != nil {
		return
	}
	if err = f.typesFromFile(ctx, m, &key, &value); err != nil {
		return
	}
	if m.info.BTFID == 0 {
		return
	}
	// The map's BTF is read and parsed under ctx too, on copies of the
	// sides: when ctx ends first, the reader goes on alone.
	type sides struct {
		key, value side
		unread     error
	}
	r, err := within(ctx, func() (sides, error) {
		k, v := key, value
		unread := withBTF(m, &k, &v)
		return sides{k, v, unread}, nil
	})
	if err != nil {
		return key, value, fileStepError(err, f.timeout, fmt.Sprintf("%s: read the map's BTF (id %d)", m, m.info.BTFID))
	}
	if r.unread != nil {
		fmt.Fprintf(diagnostics, "bpfmaps: %s: the map's C types are not shown, keys and values are hex bytes: %v (--btf FILE --type NAME takes the types from the object file instead)\n", m, r.unread)
	}
	return r.key, r.value, nil
}

// typesFromFile gives the sides the types that --type and --key-type name
// in --btf.
func (f *formatFlags) typesFromFile(ctx context.Context, m *bpfMap, key, value *side) error {
	if f.btfFile == "" {
		if f.valueType != "" || f.keyType != "" {
			return usageError{"--type and --key-type name types of a --btf file: --btf prog.bpf.o --type event"}
		}
		return nil
	}
	if f.valueType == "" && f.keyType == "" {
		return usageError{"--btf needs --type (the values' C type), --key-type (the keys'), or both"}
	}
	for _, c := range []struct {
		s              *side
		name, flag, lf string
	}{{key, f.keyType, "--key-type", "--key-layout"}, {value, f.valueType, "--type", "--layout"}} {
		if c.name == "" {
			continue
		}
		if c.s.layout != nil {
			return usageError{fmt.Sprintf("%s and %s exclude each other", c.lf, c.flag)}
		}
		bt, err := loadBTFType(ctx, f.btfFile, c.name)
		if err != nil {
			return fileStepError(err, f.timeout, fmt.Sprintf("%s: read --btf %s", m, f.btfFile))
		}
		if bt.size() != c.s.size {
			return usageError{fmt.Sprintf("%s %s is %d bytes, %s has %d-byte %ss", c.flag, bt.Name(), bt.size(), m, c.s.size, c.s.what)}
		}
		c.s.btf = bt
		c.s.asInt = false
	}
	return nil
}

// sidesAndKey builds the sides as sides does and parses arg as the key.
func (f *formatFlags) sidesAndKey(ctx context.Context, m *bpfMap, arg string) (ks, vs side, key []byte, err error) {
	if ks, vs, err = f.sides(ctx, m); err != nil {
		return
	}
	key, err = ks.parse(arg, m)
	return
}

func parseLayoutFor(spec string, s side, m *bpfMap) (*layout, error) {
	if spec == "" {
		return nil, nil
	}
	l, err := parseLayout(spec)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s layout: %v", s.what, err)}
	}
	if l.size() != s.size {
		return nil, usageError{fmt.Sprintf("%s layout is %d bytes, %s has %d-byte %ss", s.what, l.size(), m, s.size, s.what)}
	}
	return l, nil
}

// parse turns a command-line key or value into exactly size bytes for m.
func (s side) parse(arg string, m *bpfMap) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case s.layout != nil:
		b, err = s.layout.encode(arg)
	case s.asInt && isInteger(arg):
		b, err = parseSizedTo(arg, s.size)
	case s.btf != nil && strings.Contains(arg, "="):
		b, err = s.btf.encode(arg)
	case strings.Contains(arg, "="):
		lf, tf := "--layout", "--type"
		if s.what == "key" {
			lf, tf = "--key-layout", "--key-type"
		}
		err = fmt.Errorf("field=value pairs need %s, or a C type: %s has no BTF type for its %ss (give --btf FILE %s NAME)", lf, m, s.what, tf)
	default:
		b, err = parseBytes(arg)
	}
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", s.what, err)}
	}
	if len(b) != s.size {
		return nil, usageError{fmt.Sprintf("%s is %d bytes, %s has %d-byte %ss", s.what, len(b), m, s.size, s.what)}
	}
	return b, nil
}

// isInteger reports whether arg is one bare integer (decimal, 0x hex, or
// negative), as --key-int and --value-int accept.
func isInteger(arg string) bool {
	if _, err := strconv.ParseInt(arg, 0, 64); err == nil {
		return true
	}
	_, err := strconv.ParseUint(arg, 0, 64)
	return err == nil
}

// text prints b for people: decoded with the layout, with the map's BTF,
// as an integer, or as hex bytes.
func (s side) text(b []byte) string {
	if s.layout != nil {
		return s.layout.text(b)
	}
	if s.btf != nil {
		return s.btf.text(b)
	}
	if s.asInt {
		if v, ok := hostUint(b); ok {
			return strconv.FormatUint(v, 10)
		}
	}
	return hexBytes(b)
}

// formatted is b for the "formatted" member of JSON output: the layout's
// fields, the value as bpftool formats it with the map's BTF, an integer,
// or nil when there is none of these.
func (s side) formatted(b []byte) any {
	if s.layout != nil {
		return s.layout.json(b)
	}
	if s.btf != nil {
		return s.btf.json(b)
	}
	if s.asInt {
		if v, ok := hostUint(b); ok {
			return v
		}
	}
	return nil
}
