package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"
)

// rowInfo names a row of the table. batchOf names the row whose libbpf
// figure a batch row is compared with, libbpf having no batch producer.
type rowInfo struct {
	id, what string
	unit     string
	batchOf  string
}

var rowInfos = []rowInfo{
	{id: "lookup_u32", what: "hash lookup, u32 → u64", unit: "op"},
	{id: "update_u32", what: "hash update, u32 → u64", unit: "op"},
	{id: "lookup_struct", what: "hash lookup, 40-byte struct key → 32-byte struct", unit: "op"},
	{id: "lookup_percpu", what: "per-CPU hash lookup, u32 → u64 per CPU", unit: "op"},
	{id: "walk_iter", what: "walk of a 100,000-entry hash: iteration", unit: "walk"},
	{id: "walk_batch", what: "walk of a 100,000-entry hash: batches of 4096", unit: "walk"},
	{id: "consume_8", what: "ringbuf 64 MiB, 8-byte records: zero-copy", unit: "record"},
	{id: "consume_64", what: "ringbuf 64 MiB, 64-byte records: zero-copy", unit: "record"},
	{id: "consume_1024", what: "ringbuf 64 MiB, 1024-byte records: zero-copy", unit: "record"},
	{id: "copy_8", what: "ringbuf 64 MiB, 8-byte records: copying", unit: "record"},
	{id: "copy_64", what: "ringbuf 64 MiB, 64-byte records: copying", unit: "record"},
	{id: "copy_1024", what: "ringbuf 64 MiB, 1024-byte records: copying", unit: "record"},
	{id: "urb_single", what: "user ringbuf 16 MiB, 64-byte reserve + fill + submit", unit: "sample"},
	{id: "urb_batch", what: "user ringbuf 16 MiB, 64-byte samples, WriteBatch of 16", unit: "sample", batchOf: "urb_single"},
	{id: "btf_parse", what: "BTF of vmlinux: parse", unit: "parse"},
	{id: "btf_types", what: "BTF of vmlinux: parse and visit every type", unit: "parse"},
}

func formatNS(ns float64) string {
	switch {
	case ns < 1000:
		return fmt.Sprintf("%.1f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
}

// formatAllocs rounds away the odd allocation of the runtime's own that
// lands in a long sample.
func formatAllocs(a float64) string {
	if a < 0.01 {
		return "0"
	}
	return fmt.Sprintf("%.3g", a)
}

func ratio(a, b float64) string { return fmt.Sprintf("%.2f×", a/b) }

// printTable writes the markdown table of medians: per peer the time per
// operation, bpfmaps as a ratio to the floor, cilium/ebpf and libbpf as
// ratios to bpfmaps (above 1: slower than bpfmaps).
func printTable(w io.Writer, cfg config, res results, withLibbpf bool) {
	med := func(row, peer string) (ns, allocs float64, ok bool) {
		s := res[[2]string{row, peer}]
		if len(s) == 0 {
			return 0, 0, false
		}
		var nss, as []float64
		for _, x := range s {
			nss = append(nss, x.ns)
			as = append(as, x.allocs)
		}
		return median(nss), median(as), true
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	fmt.Fprintf(w, "Linux %s, %d CPUs, %s, cilium/ebpf %s, %s; medians of %d rounds, %d map operations per sample.\n\n",
		unix.ByteSliceToString(uts.Release[:]), runtime.NumCPU(), runtime.Version(), moduleVersion("github.com/cilium/ebpf"),
		libbpfVersion(res), cfg.rounds, cfg.ops)
	fmt.Fprintln(w, "| operation (time per …) | floor | bpfmaps (× floor) | cilium/ebpf (× bpfmaps) | libbpf (× bpfmaps) | allocs/op bpfmaps, cilium/ebpf |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, ri := range rowInfos {
		cells := []string{fmt.Sprintf("%s (%s)", ri.what, ri.unit)}
		fl, _, flOK := med(ri.id, floor)
		bm, bmAllocs, bmOK := med(ri.id, bpfmaps)
		if !flOK && ri.batchOf != "" {
			if fl, _, flOK = med(ri.batchOf, floor); flOK {
				cells = append(cells, "one at a time "+formatNS(fl))
			}
		} else if flOK {
			cells = append(cells, formatNS(fl))
		}
		if !flOK {
			cells = append(cells, "—")
		}
		switch {
		case bmOK && flOK:
			cells = append(cells, fmt.Sprintf("%s (%s)", formatNS(bm), ratio(bm, fl)))
		case bmOK:
			cells = append(cells, formatNS(bm))
		default:
			cells = append(cells, "—")
		}
		var ciAllocs float64
		for _, peer := range []string{cilium, libbpf} {
			ns, allocs, ok := med(ri.id, peer)
			if peer == cilium {
				ciAllocs = allocs
			}
			switch {
			case ok && bmOK:
				cells = append(cells, fmt.Sprintf("%s (%s)", formatNS(ns), ratio(ns, bm)))
			case ok:
				cells = append(cells, formatNS(ns))
			case peer == libbpf && !withLibbpf:
				cells = append(cells, "not run")
			case peer == libbpf && ri.batchOf != "":
				one, _, ok := med(ri.batchOf, libbpf)
				if ok && bmOK {
					cells = append(cells, fmt.Sprintf("no batch API; one at a time %s (%s)", formatNS(one), ratio(one, bm)))
				} else {
					cells = append(cells, "no batch API")
				}
			default:
				cells = append(cells, "n/a")
			}
		}
		var allocs []string
		if bmOK {
			allocs = append(allocs, formatAllocs(bmAllocs))
		} else {
			allocs = append(allocs, "—")
		}
		if _, _, ok := med(ri.id, cilium); ok {
			allocs = append(allocs, formatAllocs(ciAllocs))
		} else {
			allocs = append(allocs, "—")
		}
		cells = append(cells, strings.Join(allocs, ", "))
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown)"
}

// libbpfVersion is what the libbpf peer reported on its "libbpf" line.
func libbpfVersion(res results) string {
	if s := res[[2]string{"version", libbpf}]; len(s) > 0 {
		v := int(s[0].ns)
		return fmt.Sprintf("libbpf %d.%d", v/1000, v%1000)
	}
	return "libbpf not run"
}
