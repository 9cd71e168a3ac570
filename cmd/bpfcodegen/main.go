// Command bpfcodegen writes reflection-free MarshalBPF, UnmarshalBPF and
// SizeBPF methods for Go types with `bpf:"..."` struct tags, so that
// encoding them to their C layout costs no reflection and no interpretation.
// The methods produce exactly the bytes of structcodec's runtime codec,
// which uses them when they exist. Tags are read by structcodec itself, so
// they mean here what its documentation says, in both forms: bpf:"offset=8,be"
// and, as encoding/json users write it, bpf:",offset=8,be".
//
// Usage, from a //go:generate line in the package that declares the types:
//
//	//go:generate go run github.com/bpfmaps/bpfmaps/cmd/bpfcodegen -type Event,Key
//
// Flags:
//
//	-type A,B   the types (required)
//	-output f   the file to write (default: <first type in lower case>_bpf.go)
//
// An optional argument names the package directory (default: the current
// directory).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	typeList := flag.String("type", "", "comma-separated names of the types to generate code for")
	output := flag.String("output", "", "output file (default: <type>_bpf.go)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: bpfcodegen -type Name[,Name...] [-output file] [dir]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *typeList == "" || flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := "."
	if flag.NArg() == 1 {
		dir = flag.Arg(0)
	}
	names := strings.Split(*typeList, ",")
	out := *output
	if out == "" {
		out = strings.ToLower(names[0]) + "_bpf.go"
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(dir, out)
	}
	src, err := Generate(dir, names)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpfcodegen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bpfcodegen:", err)
		os.Exit(1)
	}
}
