package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/refs"
)

func runTail(args []string, stdout io.Writer) error {
	fs := newFlags("tail", "MAP", `Print the records of a ringbuf map as the kernel writes them: hex bytes,
fields with --layout or with a C type (--btf prog.bpf.o --type event), or
one JSON object per line with --json. Records
already in the ring are printed first. Ctrl-C stops (exit status 0).

Only one consumer should read a ring: tail consumes what it prints, so a
program that reads the same ring misses those records.

`+mapRefHelp+"\n\n"+layoutHelp+"\n\n"+filesHelp, stdout)
	layoutSpec := fs.String("layout", "", "decode each record with this layout (grammar above)")
	btfFile := fs.String("btf", "", "decode each record as a C type of this BPF object or BTF file (with --type)")
	btfName := fs.String("type", "", "the C type of the records in --btf, e.g. event or 'struct event'")
	asJSON := fs.Bool("json", false, "print one JSON object per record")
	count := fs.Int("count", 0, "stop after this many records (exit status 1 if --timeout ends the wait first)")
	timeout := durationVar(fs, "timeout", 0, "stop after this `duration`; 0 runs until Ctrl-C")
	return mapCommand(fs, args, 1, func(m *bpfMap, _ []string) error {
		if *count < 0 {
			return usageError{"--count must not be negative"}
		}
		if m.info.Type != unix.BPF_MAP_TYPE_RINGBUF {
			return fmt.Errorf("%s: tail: a %s map is not a ringbuf", m, m.typeName())
		}
		ctx, cancel := signalContext(*timeout)
		defer cancel()
		var lay recordFormat
		if *layoutSpec != "" {
			l, err := parseLayout(*layoutSpec)
			if err != nil {
				return usageError{fmt.Sprintf("layout: %v", err)}
			}
			lay = l
		}
		if *btfFile != "" || *btfName != "" {
			if lay != nil {
				return usageError{"--layout and --btf exclude each other"}
			}
			bt, err := recordBTF(ctx, *btfFile, *btfName)
			if err != nil {
				return fileStepError(err, *timeout, fmt.Sprintf("%s: tail: read --btf %s", m, *btfFile))
			}
			lay = bt
		}
		r, err := refs.NewRingBufRef[[]byte](m.Map)
		if err != nil {
			return m.wrap("tail", err)
		}
		defer r.Close()
		n := 0
		for *count == 0 || n < *count {
			rec, err := r.Read(ctx)
			if ctx.Err() != nil {
				if *count > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("%s: tail: timed out after %v with %d of %d records", m, *timeout, n, *count)
				}
				return nil // Ctrl-C or the end of --timeout: a normal stop
			}
			if err != nil {
				return m.wrap("tail", err)
			}
			n++
			printRecord(stdout, rec, lay, *asJSON)
		}
		return nil
	})
}

// printRecord writes one ringbuf record. A layout that does not match the
// record's size falls back to hex and says so.
func printRecord(w io.Writer, rec []byte, lay recordFormat, asJSON bool) {
	fits := lay != nil && lay.size() == len(rec)
	if asJSON {
		e := struct {
			Size      int      `json:"size"`
			Data      []string `json:"data"`
			Formatted any      `json:"formatted,omitempty"`
		}{len(rec), jsonBytes(rec), nil}
		if fits {
			e.Formatted = lay.json(rec)
		}
		writeJSON(w, e)
		return
	}
	switch {
	case fits:
		fmt.Fprintln(w, lay.text(rec))
	case lay != nil:
		fmt.Fprintf(w, "%s (%d bytes, the layout has %d)\n", hexBytes(rec), len(rec), lay.size())
	default:
		fmt.Fprintln(w, hexBytes(rec))
	}
}
