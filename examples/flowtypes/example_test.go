package flowtypes_test

import (
	"fmt"

	"github.com/bpfmaps/bpfmaps/examples/flowtypes"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// A generated type encodes to the bytes of its C struct: network-order
// fields big-endian, padding where C has it.
func Example() {
	key := flowtypes.FlowKey{Saddr: 0x0a000001, Daddr: 0x0a000002, Sport: 80, Dport: 443, Proto: 6}
	b := make([]byte, key.SizeBPF())
	if err := key.MarshalBPF(b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n", b)

	// structcodec, which mapops uses, lays it out the same way: 16 bytes,
	// dport at offset 10.
	c, err := structcodec.For[flowtypes.FlowKey]()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Size(), c.Layout().Fields()[3].Offset)
	// Output:
	// 0a 00 00 01 0a 00 00 02 00 50 01 bb 06 00 00 00
	// 16 10
}
