package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// mapCommand parses flags and positional arguments (at least one: MAP),
// opens the map and calls do with it.
func mapCommand(fs *flag.FlagSet, args []string, nargs int, do func(m *bpfMap, args []string) error) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != nargs {
		return usageError{fmt.Sprintf("%s takes %d argument%s, got %d (see bpfmaps %s --help)",
			fs.Name(), nargs, plural(nargs), fs.NArg(), fs.Name())}
	}
	m, err := openMap(fs.Arg(0))
	if err != nil {
		return err
	}
	defer m.Close()
	return do(m, fs.Args()[1:])
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// writeJSON prints v on one line, as bpftool -j does.
func writeJSON(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// jsonEntry is one element as bpftool's "map dump -j" and "map lookup -j"
// print it: "value" for ordinary maps, "values" (one per CPU) for per-CPU
// ones, and "formatted" when a layout or --int decodes it.
type jsonEntry struct {
	Key       []string       `json:"key,omitempty"`
	Value     []string       `json:"value,omitempty"`
	Values    []jsonCPUValue `json:"values,omitempty"`
	Formatted *jsonFormatted `json:"formatted,omitempty"`
}

type jsonCPUValue struct {
	CPU   int      `json:"cpu"`
	Value []string `json:"value"`
}

type jsonFormatted struct {
	Key    any `json:"key,omitempty"`
	Value  any `json:"value,omitempty"`
	Values any `json:"values,omitempty"`
}

func (m *bpfMap) jsonEntry(key []byte, values [][]byte, ks, vs side) jsonEntry {
	e := jsonEntry{Key: jsonBytes(key)}
	if key == nil {
		e.Key = nil
	}
	f := &jsonFormatted{Key: ks.formatted(key)}
	if key == nil {
		f.Key = nil
	}
	if m.PerCPU() {
		var fv []any
		for cpu, v := range values {
			e.Values = append(e.Values, jsonCPUValue{cpu, jsonBytes(v)})
			if x := vs.formatted(v); x != nil {
				fv = append(fv, map[string]any{"cpu": cpu, "value": x})
			}
		}
		if fv != nil {
			f.Values = fv
		}
	} else {
		e.Value = jsonBytes(values[0])
		f.Value = vs.formatted(values[0])
	}
	if f.Key != nil || f.Value != nil || f.Values != nil {
		e.Formatted = f
	}
	return e
}

// printEntry writes one element as text: "key: … value: …", or one line
// per CPU for per-CPU maps.
func (m *bpfMap) printEntry(w io.Writer, key []byte, values [][]byte, ks, vs side) {
	prefix := ""
	if key != nil {
		prefix = "key: " + ks.text(key) + "  "
	}
	if !m.PerCPU() {
		fmt.Fprintf(w, "%svalue: %s\n", prefix, vs.text(values[0]))
		return
	}
	indent := ""
	if prefix != "" {
		fmt.Fprintln(w, strings.TrimSpace(prefix))
		indent = "  "
	}
	for cpu, v := range values {
		fmt.Fprintf(w, "%scpu%d: %s\n", indent, cpu, vs.text(v))
	}
}

func runInfo(args []string, stdout io.Writer) error {
	fs := newFlags("info", "MAP", "Print what the kernel says about one map.\n\n"+mapRefHelp, stdout)
	asJSON := fs.Bool("json", false, "print JSON (bpftool map show -j's field names)")
	return mapCommand(fs, args, 1, func(m *bpfMap, _ []string) error {
		frozen, _ := strconv.Atoi(m.fdinfo("frozen"))
		memlock, _ := strconv.ParseUint(m.fdinfo("memlock"), 10, 64)
		if *asJSON {
			keyType, valueType := m.btfTypeNames()
			return writeJSON(stdout, struct {
				mapEntry
				Memlock   uint64 `json:"bytes_memlock"`
				Frozen    int    `json:"frozen"`
				BTFID     uint32 `json:"btf_id,omitempty"`
				KeyType   string `json:"btf_key_type,omitempty"`
				ValueType string `json:"btf_value_type,omitempty"`
			}{m.entry(), memlock, frozen, m.info.BTFID, keyType, valueType})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "id:\t%d\nname:\t%s\ntype:\t%s\nkey size:\t%d\nvalue size:\t%d\nmax entries:\t%d\nflags:\t%#x\nfrozen:\t%v\nmemlock:\t%d bytes\n",
			m.info.ID, m.info.NameString(), m.typeName(), m.info.KeySize, m.info.ValueSize, m.info.MaxEntries,
			m.info.MapFlags, frozen == 1, memlock)
		if m.PerCPU() {
			n, _ := sys.PossibleCPUs()
			fmt.Fprintf(tw, "per-CPU:\t%d possible CPUs\n", n)
		}
		m.printBTFInfo(tw)
		return tw.Flush()
	})
}

func (m *bpfMap) entry() mapEntry {
	return mapEntry{ID: m.info.ID, Type: m.typeName(), Name: m.info.NameString(), Flags: m.info.MapFlags,
		KeySize: m.info.KeySize, ValueSize: m.info.ValueSize, MaxEntries: m.info.MaxEntries}
}

func runDump(args []string, stdout io.Writer) error {
	fs := newFlags("dump", "MAP", "Print every entry of a map: hex bytes by default, or as its C types say\nwhen the map has BTF (or --btf FILE --type NAME); integers with --int, fields with --layout, or JSON\nthat matches bpftool map dump -j.\n\n"+mapRefHelp+"\n\n"+layoutHelp+"\n\n"+btfFieldsHelp+"\n\n"+filesHelp, stdout)
	ff := addFormatFlags(fs, true)
	return mapCommand(fs, args, 1, func(m *bpfMap, _ []string) error {
		if err := m.readable("dump"); err != nil {
			return err
		}
		ks, vs, err := ff.sides(context.Background(), m)
		if err != nil {
			return err
		}
		if m.keyless() {
			return fmt.Errorf("%s: dump: %s has no keys to walk; use peek or pop", m, m.aType())
		}
		if m.info.KeySize == 0 {
			return fmt.Errorf("%s: dump: %s has no entries to dump (for a ringbuf use tail)", m, m.aType())
		}
		entries, err := m.entries()
		if err != nil {
			return err
		}
		if ff.json {
			out := make([]jsonEntry, 0, len(entries))
			for _, e := range entries {
				out = append(out, m.jsonEntry(e.key, e.values, ks, vs))
			}
			return writeJSON(stdout, out)
		}
		for _, e := range entries {
			m.printEntry(stdout, e.key, e.values, ks, vs)
		}
		fmt.Fprintf(stdout, "Found %d element%s\n", len(entries), plural(len(entries)))
		return nil
	})
}

func runGet(args []string, stdout io.Writer) error {
	fs := newFlags("get", "MAP KEY", "Print the value stored under KEY (one line per CPU for per-CPU maps).\n\n"+mapRefHelp+"\n\n"+bytesHelp+"\n\n"+layoutHelp+"\n\n"+btfFieldsHelp+"\n\n"+filesHelp, stdout)
	ff := addFormatFlags(fs, true)
	return mapCommand(fs, args, 2, func(m *bpfMap, args []string) error {
		if err := m.readable("get"); err != nil {
			return err
		}
		if m.keyless() {
			return usageError{fmt.Sprintf("%s is %s without keys: use peek or pop", m, m.aType())}
		}
		ks, vs, key, err := ff.sidesAndKey(context.Background(), m, args[0])
		if err != nil {
			return err
		}
		values, err := m.lookup(key)
		if err != nil {
			return m.wrap("get "+ks.text(key), err)
		}
		if ff.json {
			return writeJSON(stdout, m.jsonEntry(key, values, ks, vs))
		}
		if m.PerCPU() {
			m.printEntry(stdout, nil, values, ks, vs)
		} else {
			fmt.Fprintln(stdout, vs.text(values[0]))
		}
		return nil
	})
}

func runPut(args []string, stdout io.Writer) error {
	fs := newFlags("put", "MAP KEY VALUE", "Store VALUE under KEY. Per-CPU maps get VALUE on every CPU.\n\n"+mapRefHelp+"\n\n"+bytesHelp+"\n\n"+layoutHelp+"\n\n"+btfFieldsHelp+"\n\n"+filesHelp, stdout)
	ff := addFormatFlags(fs, false)
	noExist := fs.Bool("noexist", false, "fail if KEY already exists (BPF_NOEXIST)")
	exist := fs.Bool("exist", false, "fail unless KEY already exists (BPF_EXIST)")
	return mapCommand(fs, args, 3, func(m *bpfMap, args []string) error {
		if *noExist && *exist {
			return usageError{"--noexist and --exist exclude each other"}
		}
		if m.keyless() {
			return usageError{fmt.Sprintf("%s is %s without keys: use push", m, m.aType())}
		}
		if err := m.writable("put"); err != nil {
			return err
		}
		ks, vs, key, err := ff.sidesAndKey(context.Background(), m, args[0])
		if err != nil {
			return err
		}
		value, err := vs.parse(args[1], m)
		if err != nil {
			return err
		}
		flags := mapops.Any
		if *noExist {
			flags = mapops.NoExist
		} else if *exist {
			flags = mapops.Exist
		}
		if err := m.update(key, value, flags); err != nil {
			return m.wrap("put "+ks.text(key), err)
		}
		return nil
	})
}

func runDel(args []string, stdout io.Writer) error {
	fs := newFlags("del", "MAP KEY", "Delete KEY.\n\n"+mapRefHelp+"\n\n"+bytesHelp+"\n\n"+btfFieldsHelp+"\n\n"+filesHelp, stdout)
	ff := addFormatFlags(fs, false)
	return mapCommand(fs, args, 2, func(m *bpfMap, args []string) error {
		ks, _, key, err := ff.sidesAndKey(context.Background(), m, args[0])
		if err != nil {
			return err
		}
		if err := m.Delete(key); err != nil {
			return m.wrap("del "+ks.text(key), err)
		}
		return nil
	})
}

// queueOnly refuses maps that push, pop and peek do not apply to.
func queueOnly(m *bpfMap, op string) error {
	if f, _ := m.info.Type.Facts(); f.Ops&sys.OpPop == 0 {
		return fmt.Errorf("%s: %s: %s is not a queue or stack", m, op, m.aType())
	}
	return nil
}

func runPush(args []string, stdout io.Writer) error {
	fs := newFlags("push", "MAP VALUE", "Push VALUE onto a queue or stack map.\n\n"+mapRefHelp+"\n\n"+bytesHelp+"\n\n"+layoutHelp+"\n\n"+btfFieldsHelp+"\n\n"+filesHelp, stdout)
	ff := addFormatFlags(fs, false)
	overwrite := fs.Bool("overwrite", false, "when the map is full, drop the oldest element (BPF_EXIST)")
	return mapCommand(fs, args, 2, func(m *bpfMap, args []string) error {
		if err := queueOnly(m, "push"); err != nil {
			return err
		}
		_, vs, err := ff.sides(context.Background(), m)
		if err != nil {
			return err
		}
		value, err := vs.parse(args[0], m)
		if err != nil {
			return err
		}
		flags := mapops.Any
		if *overwrite {
			flags = mapops.Exist
		}
		if err := m.Push(value, flags); err != nil {
			if errors.Is(err, sys.ErrFull) {
				return fmt.Errorf("%s: push: %s is full (%d elements; --overwrite drops the oldest)", m, m.typeName(), m.info.MaxEntries)
			}
			return m.wrap("push", err)
		}
		return nil
	})
}

func runPop(args []string, stdout io.Writer) error { return popOrPeek("pop", args, stdout) }

func runPeek(args []string, stdout io.Writer) error { return popOrPeek("peek", args, stdout) }

func popOrPeek(op string, args []string, stdout io.Writer) error {
	what := "Remove and print the next element of a queue (oldest) or stack (newest)."
	if op == "peek" {
		what = "Print the next element of a queue (oldest) or stack (newest) without removing it."
	}
	fs := newFlags(op, "MAP", what+"\n\n"+mapRefHelp+"\n\n"+layoutHelp+"\n\n"+btfFieldsHelp+"\n\n"+filesHelp, stdout)
	ff := addFormatFlags(fs, true)
	return mapCommand(fs, args, 1, func(m *bpfMap, _ []string) error {
		if err := queueOnly(m, op); err != nil {
			return err
		}
		_, vs, err := ff.sides(context.Background(), m)
		if err != nil {
			return err
		}
		value := make([]byte, m.ValueSize())
		if op == "pop" {
			err = m.Pop(value)
		} else {
			err = m.Peek(value)
		}
		if isEmpty(err) {
			return fmt.Errorf("%s: %s: %s is empty", m, op, m.typeName())
		}
		if err != nil {
			return m.wrap(op, err)
		}
		if ff.json {
			return writeJSON(stdout, m.jsonEntry(nil, [][]byte{value}, side{}, vs))
		}
		fmt.Fprintln(stdout, vs.text(value))
		return nil
	})
}

func runPin(args []string, stdout io.Writer) error {
	fs := newFlags("pin", "MAP PATH", "Pin a map at PATH on a bpf filesystem, so that it outlives its programs.\n\n"+mapRefHelp, stdout)
	return mapCommand(fs, args, 2, func(m *bpfMap, args []string) error {
		if err := m.Pin(args[0]); err != nil {
			return err // names the map and the path, and says when it is off a bpf filesystem
		}
		return nil
	})
}

func runFreeze(args []string, stdout io.Writer) error {
	fs := newFlags("freeze", "MAP", "Make a map read-only for user space, for good (BPF_MAP_FREEZE).\n\n"+mapRefHelp, stdout)
	return mapCommand(fs, args, 1, func(m *bpfMap, _ []string) error {
		if err := m.Freeze(); err != nil {
			return err // names the map
		}
		return nil
	})
}
