package structcodec_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/codegentest"
)

// The benchmarks encode and decode Event, the 40-byte mixed struct (u32,
// be u16, u8, u8, be [4]byte, u64, cstring [16]byte), with:
//
//	Runtime    structcodec.For[Event] (no generated code: the compiled program,
//	           here a copy, one byte swap in place and a 4-byte clear)
//	Plain      the same struct without big-endian fields (a copy and a clear)
//	Generated  structcodec.For[codegentest.Mixed] (the same struct, generated methods)
//	Copy       the floor: one unsafe 40-byte copy, what a codec cannot beat
//	Binary     encoding/binary.Write/Read through a reused buffer
//	BinaryEnc  encoding/binary.Encode/Decode (Go 1.23), no io.Writer
//
// encoding/binary knows neither big-endian fields nor C padding, so it does
// less work than the codecs (36 bytes, no padding, no swaps).

func benchEvent() Event {
	v := Event{Pid: 1234, Port: 8080, Proto: 6, Flags: 1, Addr: [4]byte{10, 0, 0, 1}, Time: 1 << 40}
	copy(v.Comm[:], "bash")
	return v
}

// plainEvent is Event without big-endian fields.
type plainEvent struct {
	Pid   uint32
	Port  uint16
	Proto uint8
	Flags uint8
	Addr  [4]byte
	Time  uint64
	Comm  [16]byte `bpf:"cstring"`
}

func BenchmarkEncode(b *testing.B) {
	v := benchEvent()
	dst := make([]byte, 40)
	b.Run("Plain", func(b *testing.B) {
		c, err := structcodec.For[plainEvent]()
		if err != nil {
			b.Fatal(err)
		}
		p := plainEvent(v)
		b.ReportAllocs()
		for range b.N {
			if err := c.Encode(dst, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Runtime", func(b *testing.B) {
		c, err := structcodec.For[Event]()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for range b.N {
			if err := c.Encode(dst, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Generated", func(b *testing.B) {
		c, err := structcodec.For[codegentest.Mixed]()
		if err != nil {
			b.Fatal(err)
		}
		m := codegentest.Mixed(v)
		b.ReportAllocs()
		for range b.N {
			if err := c.Encode(dst, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Copy", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(&v)), 40))
		}
	})
	b.Run("Binary", func(b *testing.B) {
		var buf bytes.Buffer
		b.ReportAllocs()
		for range b.N {
			buf.Reset()
			if err := binary.Write(&buf, binary.LittleEndian, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BinaryEnc", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := binary.Encode(dst, binary.LittleEndian, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	v := benchEvent()
	src := make([]byte, 40)
	c, err := structcodec.For[Event]()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Encode(src, &v); err != nil {
		b.Fatal(err)
	}
	var out Event
	b.Run("Plain", func(b *testing.B) {
		c, err := structcodec.For[plainEvent]()
		if err != nil {
			b.Fatal(err)
		}
		var p plainEvent
		b.ReportAllocs()
		for range b.N {
			if err := c.Decode(src, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Runtime", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := c.Decode(src, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Generated", func(b *testing.B) {
		g, err := structcodec.For[codegentest.Mixed]()
		if err != nil {
			b.Fatal(err)
		}
		var m codegentest.Mixed
		b.ReportAllocs()
		for range b.N {
			if err := g.Decode(src, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Copy", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&out)), 40), src)
		}
	})
	b.Run("Binary", func(b *testing.B) {
		r := bytes.NewReader(src)
		b.ReportAllocs()
		for range b.N {
			r.Reset(src)
			if err := binary.Read(r, binary.LittleEndian, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BinaryEnc", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := binary.Decode(src, binary.LittleEndian, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFor measures the cached lookup of a codec.
func BenchmarkFor(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, err := structcodec.For[Event](); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVsBinary runs the runtime codec and encoding/binary's
// Encode/Decode in alternating rounds of 1,000 calls and reports how many
// times faster the codec is ("x"): a ratio that stays steady on a shared
// machine where separate runs drift by tens of percent.
func BenchmarkVsBinary(b *testing.B) {
	c, err := structcodec.For[Event]()
	if err != nil {
		b.Fatal(err)
	}
	v := benchEvent()
	buf := make([]byte, 40)
	var out Event
	pair := func(b *testing.B, codec, binaryOp func()) {
		const round = 1000
		var tc, tb time.Duration
		b.ReportAllocs()
		for done := 0; done < b.N; done += round {
			start := time.Now()
			for range round {
				codec()
			}
			mid := time.Now()
			for range round {
				binaryOp()
			}
			tc, tb = tc+mid.Sub(start), tb+time.Since(mid)
		}
		b.ReportMetric(float64(tb)/float64(tc), "x")
	}
	b.Run("Encode", func(b *testing.B) {
		pair(b, func() { c.Encode(buf, &v) }, func() { binary.Encode(buf, binary.LittleEndian, &v) })
	})
	b.Run("Decode", func(b *testing.B) {
		c.Encode(buf, &v)
		pair(b, func() { c.Decode(buf, &out) }, func() { binary.Decode(buf, binary.LittleEndian, &out) })
	})
}
