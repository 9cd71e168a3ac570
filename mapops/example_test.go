package mapops_test

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// A map at the three levels: bytes, integers in host byte order and Go types.
func ExampleCreate() {
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 64, Name: "counts"})
	if err != nil {
		fmt.Println(err) // without privileges: "map create: operation not permitted: needs CAP_BPF …"
		return
	}
	defer m.Close()

	// Bytes as a C program shares them: integers in host byte order.
	key, value := binary.NativeEndian.AppendUint32(nil, 7), binary.NativeEndian.AppendUint64(nil, 1)
	if err := m.Update(key, value, mapops.NoExist); err != nil {
		fmt.Println(err)
		return
	}
	n, err := m.LookupInt(7)
	fmt.Println(n, err)

	_, err = m.LookupInt(8)
	fmt.Println(errors.Is(err, sys.ErrKeyNotExist), errors.Is(err, unix.ENOENT))

	// Sizes are checked before the system call: map 12 "counts" (hash):
	// lookup: key is 1 bytes, the map needs 4.
	err = m.Lookup([]byte{7}, make([]byte, 8))
	var op *sys.OpError
	var size *mapops.SizeError
	if errors.As(err, &op) && errors.As(err, &size) {
		fmt.Println(op.Op, size.What, size.Got, size.Want)
	}
	// Prints:
	// 1 <nil>
	// true true
	// lookup key 1 4
}

// FlowKey is the C struct { __be32 saddr, daddr; __be16 sport, dport; __u8
// proto; } a BPF program might key its table with.
type FlowKey struct {
	Saddr, Daddr [4]byte
	Sport, Dport uint16 `bpf:"be"`
	Proto        uint8
}

// Typed maps keys and values through struct tags, and ranges over the map
// with All, which reports the error that ended a walk instead of hiding it.
func ExampleTyped() {
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 14, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	flows, err := mapops.NewTyped[FlowKey, uint64](m) // checks 14 and 8 bytes once
	if err != nil {
		fmt.Println(err)
		return
	}
	k := FlowKey{Saddr: [4]byte{10, 0, 0, 1}, Daddr: [4]byte{10, 0, 0, 2}, Sport: 40000, Dport: 443, Proto: unix.IPPROTO_TCP}
	if err := flows.Update(k, 1500, mapops.Any); err != nil {
		fmt.Println(err)
		return
	}
	all, errf := flows.All()
	for k, bytes := range all {
		fmt.Printf("%v:%d -> %v:%d: %d bytes\n", k.Saddr, k.Sport, k.Daddr, k.Dport, bytes)
	}
	if err := errf(); err != nil {
		fmt.Println(err)
		return
	}
	// Prints: [10 0 0 1]:40000 -> [10 0 0 2]:443: 1500 bytes
}

// Per-CPU maps hold one value per possible CPU; LookupPerCPU fills a slice
// the caller keeps, so reading them in a loop allocates nothing.
func ExampleTyped_LookupPerCPU() {
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	packets, err := mapops.NewTyped[uint32, uint64](m)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := packets.UpdatePerCPU(0, []uint64{5}, mapops.Any); err != nil { // 5 on every CPU
		fmt.Println(err)
		return
	}
	perCPU := make([]uint64, packets.PossibleCPUs())
	if err := packets.LookupPerCPU(0, perCPU); err != nil {
		fmt.Println(err)
		return
	}
	var total uint64
	for _, n := range perCPU {
		total += n
	}
	fmt.Println(total == 5*uint64(len(perCPU)))
	// Prints: true
}

// A queue pops in the order values were pushed; a stack map, in reverse.
func ExampleQueue() {
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	jobs, err := mapops.NewQueue[uint64](m)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []uint64{42, 43} {
		if err := jobs.Push(id, mapops.Any); err != nil {
			fmt.Println(err)
			return
		}
	}
	first, _ := jobs.Pop()
	second, _ := jobs.Pop()
	_, err = jobs.Pop()
	fmt.Println(first, second, errors.Is(err, sys.ErrEmpty))
	// Prints: 42 43 true
}

// An array created with BPF_F_MMAPABLE is memory shared with the kernel:
// reads and writes need no system call.
func ExampleMemoryOf() {
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4, Flags: unix.BPF_F_MMAPABLE})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	counters, err := mapops.MemoryOf[uint64](m)
	if err != nil {
		fmt.Println(err)
		return
	}
	counters[2] = 99 // a plain store into the map's memory
	v, err := m.LookupInt(2)
	fmt.Println(v, err)
	// Prints: 99 <nil>
}
