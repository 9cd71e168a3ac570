package main

import (
	"flag"
	"fmt"
	"strconv"
)

// formatFlags are the flags of every command that reads or writes keys
// and values: how to parse them and how to print them.
type formatFlags struct {
	asInt, keyInt, valueInt bool
	layout, keyLayout       string
	json                    bool
}

func addFormatFlags(fs *flag.FlagSet, withJSON bool) *formatFlags {
	f := new(formatFlags)
	fs.BoolVar(&f.asInt, "int", false, "keys and values are integers in host byte order sized to the map (input and output)")
	fs.BoolVar(&f.keyInt, "key-int", false, "the key is an integer in host byte order sized to the map's key")
	fs.BoolVar(&f.valueInt, "value-int", false, "the value is an integer in host byte order sized to the map's value")
	fs.StringVar(&f.layout, "layout", "", "value layout, e.g. 'pid:u32,comm:cstring[16],addr:be32' (grammar above)")
	fs.StringVar(&f.keyLayout, "key-layout", "", "key layout, same grammar as --layout")
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
// layouts match the map's sizes.
func (f *formatFlags) sides(m *bpfMap) (key, value side, err error) {
	key = side{what: "key", size: int(m.info.KeySize), asInt: f.asInt || f.keyInt}
	value = side{what: "value", size: int(m.info.ValueSize), asInt: f.asInt || f.valueInt}
	if key.layout, err = parseLayoutFor(f.keyLayout, key, m); err != nil {
		return
	}
	if value.layout, err = parseLayoutFor(f.layout, value, m); err != nil {
		return
	}
	withBTF(m, &key, &value)
	return
}

// sidesAndKey builds the sides as sides does and parses arg as the key.
func (f *formatFlags) sidesAndKey(m *bpfMap, arg string) (ks, vs side, key []byte, err error) {
	if ks, vs, err = f.sides(m); err != nil {
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
