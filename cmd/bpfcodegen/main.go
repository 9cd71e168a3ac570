// Command bpfcodegen writes Go code for C layouts, from one of two
// sources.
//
// From Go types with `bpf:"..."` struct tags, it writes reflection-free
// MarshalBPF, UnmarshalBPF and SizeBPF methods, so that encoding them to
// their C layout costs no reflection and no interpretation. The methods
// produce exactly the bytes of structcodec's runtime codec, which uses
// them when they exist. Tags are read by structcodec itself, so they mean
// here what its documentation says, in both forms: bpf:"offset=8,be" and,
// as encoding/json users write it, bpf:",offset=8,be":
//
//	//go:generate go run github.com/bpfmaps/bpfmaps/cmd/bpfcodegen -type Event,Key
//
// From BTF, the C type information that clang -g writes into BPF objects
// and that the kernel keeps for maps and for itself, it writes the tagged
// Go types themselves (and, with -methods, their methods too):
//
//	//go:generate go run github.com/bpfmaps/bpfmaps/cmd/bpfcodegen -btf flow.bpf.o -type flow_key,flow_stats -methods
//	bpfcodegen -btf flow.bpf.o         # every type the object's maps and globals use
//	bpfcodegen -btf /sys/kernel/btf/vmlinux -type sock_common -package net
//	bpfcodegen -map id:12              # the key and value types of a live map
//	bpfcodegen -map /sys/fs/bpf/flows  # or of a pinned one
//
// Flags:
//
//	-type A,B     the types: Go names, or with -btf C names (struct, union,
//	              enum or typedef; "struct x" to pick one kind; .bss, .data,
//	              .rodata for a global data section, whose Go type
//	              mapops.MemoryOf overlays on the section's map); with -btf
//	              and no -type, every struct, union and enum that the
//	              object's maps (their keys and values) and global variables
//	              use, and the global data sections
//	-btf file     read C types from an ELF object's .BTF section or a raw
//	              BTF file such as /sys/kernel/btf/vmlinux
//	-map ref      read the key and value types of a map: id:N, N or a
//	              pinned path
//	-package p    the package clause of a BTF-generated file (default: $GOPACKAGE
//	              under go generate, else the directory's name)
//	-methods      with -btf or -map, also write the methods
//	-output f     the file to write (default: <first type in lower case>_bpf.go,
//	              or _btf.go for types generated from BTF)
//
// An optional argument names the package directory (default: the current
// directory).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	err := run(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) || errors.As(err, new(usageError)) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpfcodegen:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line; the usage has been printed.
type usageError struct{}

func (usageError) Error() string { return "usage" }

// run runs the command with the given arguments (without the program
// name), writing the generated file.
func run(args []string) error {
	fs := flag.NewFlagSet("bpfcodegen", flag.ContinueOnError)
	typeList := fs.String("type", "", "comma-separated names of the types to generate code for (with -btf: default every type its maps and globals use)")
	output := fs.String("output", "", "output file (default: <type>_bpf.go, or <type>_btf.go from BTF)")
	btfFile := fs.String("btf", "", "generate Go types for C types in this ELF object or raw BTF file")
	mapRef := fs.String("map", "", "generate Go types for the key and value of this map (id:N or pinned path)")
	pkgName := fs.String("package", "", "package name of a BTF-generated file")
	methods := fs.Bool("methods", false, "with -btf or -map: also write MarshalBPF, UnmarshalBPF and SizeBPF")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bpfcodegen -type Name[,Name...] [-output file] [dir]\n"+
			"       bpfcodegen -btf file [-type c_name[,c_name...]] [-package p] [-methods] [-output file] [dir]\n"+
			"         (without -type: every struct, union and enum the object's maps and globals use, and its .bss, .data, .rodata)\n"+
			"       bpfcodegen -map id:N|pinned-path [-type KeyName,ValueName] [-package p] [-methods] [-output file] [dir]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	fromBTF := *btfFile != "" || *mapRef != ""
	if (*typeList == "" && !fromBTF) || fs.NArg() > 1 || *btfFile != "" && *mapRef != "" ||
		!fromBTF && (*methods || *pkgName != "") {
		fs.Usage()
		return usageError{}
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	var names []string
	if *typeList != "" {
		names = strings.Split(*typeList, ",")
	}
	var (
		src []byte
		err error
		out = *output
	)
	if fromBTF {
		src, out, err = generateBTF(btfArgs{file: *btfFile, mapRef: *mapRef, types: names, pkg: *pkgName, dir: dir, methods: *methods, output: out})
	} else {
		if out == "" {
			out = strings.ToLower(names[0]) + "_bpf.go"
		}
		src, err = Generate(dir, names)
	}
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(dir, out)
	}
	return os.WriteFile(out, src, 0o644)
}
