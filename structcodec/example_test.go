package structcodec_test

import (
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// Flow is a TCP flow key as a BPF program declares it:
//
//	struct flow {
//		__u8   saddr[4], daddr[4];
//		__be16 sport, dport;
//		__u8   proto;
//		char   comm[16];
//	};
type Flow struct {
	SrcAddr [4]byte `bpf:"be"`
	DstAddr [4]byte `bpf:"be"`
	SrcPort uint16  `bpf:"be"`
	DstPort uint16  `bpf:"be"`
	Proto   uint8
	Comm    string `bpf:"cstring,size=16"`
}

func ExampleFor() {
	c, err := structcodec.For[Flow]()
	if err != nil {
		panic(err)
	}
	key := Flow{
		SrcAddr: [4]byte{10, 0, 0, 1}, DstAddr: [4]byte{10, 0, 0, 2},
		SrcPort: 49152, DstPort: 443, Proto: 6, Comm: "curl",
	}
	buf := make([]byte, c.Size())
	if err := c.Encode(buf, &key); err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes: % x\n", c.Size(), buf)

	var back Flow
	if err := c.Decode(buf, &back); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", back)

	key.Comm = "a-command-name-too-long"
	fmt.Println(c.Encode(buf, &key))
	// Output:
	// 30 bytes: 0a 00 00 01 0a 00 00 02 c0 00 01 bb 06 63 75 72 6c 00 00 00 00 00 00 00 00 00 00 00 00 00
	// {SrcAddr:[10 0 0 1] DstAddr:[10 0 0 2] SrcPort:49152 DstPort:443 Proto:6 Comm:curl}
	// structcodec: encode Flow.Comm: text of 23 bytes does not fit 16 bytes
}

// Header is packed, like a C struct with __attribute__((packed)).
type Header struct {
	_      structcodec.Packed
	Kind   uint8
	Length uint32 `bpf:"be"`
	Seq    uint64
}

func ExampleCompile() {
	for _, t := range []reflect.Type{reflect.TypeFor[Flow](), reflect.TypeFor[Header](), reflect.TypeFor[Event]()} {
		l, err := structcodec.Compile(t)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: sizeof %d, align %d\n", t.Name(), l.Size(), l.Align())
		for _, f := range l.Fields() {
			fmt.Printf("\t%-7s offset %2d size %2d", f.Name, f.Offset, f.Size)
			if f.BigEndian {
				fmt.Print(" big-endian")
			}
			if f.CString {
				fmt.Print(" text")
			}
			fmt.Println()
		}
	}
	// Output:
	// Flow: sizeof 30, align 2
	// 	SrcAddr offset  0 size  4 big-endian
	// 	DstAddr offset  4 size  4 big-endian
	// 	SrcPort offset  8 size  2 big-endian
	// 	DstPort offset 10 size  2 big-endian
	// 	Proto   offset 12 size  1
	// 	Comm    offset 13 size 16 text
	// Header: sizeof 13, align 1
	// 	Kind    offset  0 size  1
	// 	Length  offset  1 size  4 big-endian
	// 	Seq     offset  5 size  8
	// Event: sizeof 40, align 8
	// 	Pid     offset  0 size  4
	// 	Port    offset  4 size  2 big-endian
	// 	Proto   offset  6 size  1
	// 	Flags   offset  7 size  1
	// 	Addr    offset  8 size  4 big-endian
	// 	Time    offset 16 size  8
	// 	Comm    offset 24 size 16 text
}

// Runtime types, such as a command line tool builds from a user's layout,
// go through Compile and the Value forms.
func ExampleLayout_EncodeValue() {
	typ := reflect.StructOf([]reflect.StructField{
		{Name: "Pid", Type: reflect.TypeFor[uint32]()},
		{Name: "Comm", Type: reflect.TypeFor[[8]byte](), Tag: `bpf:"cstring"`},
		{Name: "Port", Type: reflect.TypeFor[uint16](), Tag: `bpf:"be"`},
	})
	l, err := structcodec.Compile(typ)
	if err != nil {
		panic(err)
	}
	v := reflect.New(typ).Elem()
	v.Field(0).SetUint(42)
	reflect.Copy(v.Field(1), reflect.ValueOf([]byte("bash")))
	v.Field(2).SetUint(8080)
	buf := make([]byte, l.Size())
	if err := l.EncodeValue(buf, v); err != nil {
		panic(err)
	}
	// Pid in host byte order, as C stores a uint32_t; Port in network order.
	fmt.Printf("pid %d, comm % x, port % x, padding % x\n", binary.NativeEndian.Uint32(buf), buf[4:12], buf[12:14], buf[14:])
	// Output:
	// pid 42, comm 62 61 73 68 00 00 00 00, port 1f 90, padding 00 00
}

func ExampleFor_unsupported() {
	type Bad struct {
		ID  uint32
		Ptr *int
	}
	_, err := structcodec.For[Bad]()
	fmt.Println(err)
	// Output:
	// structcodec: Bad.Ptr: unsupported kind *int (pointers have no C layout)
}
