// Package flowtypes is the worked example of Go types generated from BTF:
// bpf/flow.h declares C structs (a flow key with network-order members,
// nested structs, an array of structs, a union, bitfields, a packed
// struct, an enum, text), bpf/flow.bpf.c puts them in maps, and flow_btf.go
// is what bpfcodegen writes for them from the .BTF section of the object
// clang builds. Nothing in flow_btf.go is written by hand.
//
// To rebuild after a change to flow.h (needs clang; bpf/flow.bpf.o, 12 KiB,
// is checked in so that the second step runs without it):
//
//	go generate ./examples/flowtypes
//
// The tests of cmd/bpfcodegen fail when flow_btf.go differs from what the
// command writes, and when the object is stale against its C source.
package flowtypes

//go:generate clang -g -O2 -target bpf -c bpf/flow.bpf.c -o bpf/flow.bpf.o
//go:generate go run github.com/bpfmaps/bpfmaps/cmd/bpfcodegen -btf bpf/flow.bpf.o -type flow_key,flow_stats,path,tagged_addr,tcp_flags,wire,counters,anon,event,wide,ring_event -methods -output flow_btf.go
