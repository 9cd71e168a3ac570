// Command xdpcount prints what the XDP program of bpf/xdpcount.bpf.c
// counted: packets and bytes by EtherType, read from the map that bpftool
// pinned when it loaded the program (see the README's recipe). It is the
// README's "use it from your module" program, and its test runs the
// recipe.
package main

import (
	"fmt"
	"os"

	"github.com/bpfmaps/bpfmaps/mapops"
)

// Counts is struct counts of bpf/xdpcount.bpf.c.
type Counts struct {
	Packets uint64
	Bytes   uint64
}

func main() {
	path := "/sys/fs/bpf/xdpcount/maps/counts"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := printCounts(path); err != nil {
		fmt.Fprintln(os.Stderr, "xdpcount:", err)
		os.Exit(1)
	}
}

func printCounts(path string) error {
	m, err := mapops.Open(path)
	if err != nil {
		return err // says what is missing: the pin, or CAP_BPF
	}
	defer m.Close()
	// Checks the Go types against the map's sizes and its BTF.
	counts, err := mapops.NewTyped[uint32, Counts](m)
	if err != nil {
		return err
	}
	all, errf := counts.All()
	for etherType, c := range all {
		fmt.Printf("ethertype %#04x: %d packets, %d bytes\n", etherType, c.Packets, c.Bytes)
	}
	return errf()
}
