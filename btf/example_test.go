package btf_test

import (
	"fmt"
	"reflect"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// Check finds where a Go struct strays from the C struct it stands for.
// Here the C side is written with a Builder; in real use it comes from a
// map (mapops.Map.BTF), a BTF object by id or an ELF object (LoadELF).
func ExampleCheck() {
	// struct flow { __be32 addr; __u8 proto; __be16 port; };
	var b btf.Builder
	u8 := b.Int("unsigned char", 1, false)
	be16 := b.Add(&btf.Type{Kind: btf.KindTypedef, Name: "__be16", Ref: b.Int("unsigned short", 2, false)})
	be32 := b.Add(&btf.Type{Kind: btf.KindTypedef, Name: "__be32", Ref: b.Int("unsigned int", 4, false)})
	b.Struct("flow", 8,
		btf.Member{Name: "addr", Type: be32},
		btf.Member{Name: "proto", Type: u8, BitOffset: 32},
		btf.Member{Name: "port", Type: be16, BitOffset: 48})
	raw, err := b.Bytes()
	if err != nil {
		fmt.Println(err)
		return
	}
	spec, err := btf.Parse(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	flow, err := spec.Lookup("flow", btf.KindStruct)
	if err != nil {
		fmt.Println(err)
		return
	}

	type Flow struct {
		Addr  uint32 `bpf:"be"`
		Port  uint16 `bpf:"be"` // should come after Proto
		Proto uint8
	}
	l, err := structcodec.Compile(reflect.TypeFor[Flow]())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(btf.Check(l, spec, flow))
	// Output: Go field Flow.Port (offset 4, 2 bytes) vs C member flow.port (offset 6, 2 bytes)
}

// The running kernel's types, from /sys/kernel/btf/vmlinux.
func ExampleLoadKernel() {
	vmlinux, err := btf.LoadKernel()
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := vmlinux.Lookup("iphdr", btf.KindStruct)
	if err != nil {
		fmt.Println(err)
		return
	}
	size, _ := vmlinux.Size(id)
	t, _ := vmlinux.Type(id)
	fmt.Printf("%s: %d bytes\n", vmlinux.Name(id), size)
	for _, m := range t.Members {
		fmt.Printf("\t%s %s at bit %d\n", vmlinux.Name(m.Type), m.Name, m.BitOffset)
	}
}
