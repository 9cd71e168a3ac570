package ringbuf_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/ringbuf"
	"github.com/bpfmaps/bpfmaps/sys"
)

// newRing creates a BPF_MAP_TYPE_RINGBUF map of size bytes and runs a
// program that writes events to it (struct event { __u64 time_ns; __u32
// cpu; __u32 len; }) the given number of times: the BPF side of the
// examples.
func newRing(size uint32, events int) *sys.FD {
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: size}
	ring, err := sys.MapCreate(&attr)
	if err != nil {
		log.Fatal(err)
	}
	prog, err := progs.EmitEvent(ring)
	if err != nil {
		log.Fatal(err)
	}
	defer prog.Close()
	if _, err := progs.Run(prog, events); err != nil {
		log.Fatal(err)
	}
	return ring
}

// A Reader blocks until the kernel writes a record, then copies it out;
// Consume hands the records already in the ring to a function in place.
func ExampleReader() {
	ring := newRing(64<<10, 3)
	defer ring.Close()

	r, err := ringbuf.NewReader(ring)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec, err := r.Read(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// The test run's packet is 64 bytes; skb->len counts it without its
	// 14-byte Ethernet header.
	fmt.Printf("first event: %d bytes, packet length %d\n", len(rec.Sample), binary.LittleEndian.Uint32(rec.Sample[12:]))

	n, err := r.Consume(func(sample []byte) error {
		return nil // sample is valid only during the call: decode or copy it here
	})
	fmt.Println("then, in place:", n, err)

	// Nothing more: a deadline ends the wait, as with os.File.
	r.SetDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = r.Read(ctx)
	fmt.Println(err)
	// Output:
	// first event: 16 bytes, packet length 50
	// then, in place: 2 <nil>
	// ringbuf read: deadline passed: i/o timeout
}

// ReadBatch copies out every record waiting in the ring, up to the length
// of the slice, under one lock: the fast way to drain a busy ring into
// memory that outlives the call. The Records and their Samples are reused
// from call to call.
func ExampleReader_ReadBatch() {
	ring := newRing(64<<10, 100)
	defer ring.Close()

	r, err := ringbuf.NewReader(ring)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs := make([]ringbuf.Record, 64)
	for total := 0; total < 100; {
		n, err := r.ReadBatch(ctx, recs)
		for _, rec := range recs[:n] {
			_ = rec.Sample // a copy: keep it until the next ReadBatch
		}
		if err != nil {
			log.Fatal(err)
		}
		total += n
		fmt.Println("batch of", n, "records, then", recs[n-1].Remaining, "bytes waiting")
	}
	// Output:
	// batch of 64 records, then 864 bytes waiting
	// batch of 36 records, then 0 bytes waiting
}

// A Poller serves many rings from one goroutine, each with its own
// handler, like libbpf's ring_buffer__add and ring_buffer__poll.
func ExamplePoller() {
	p, err := ringbuf.NewPoller()
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	counts := map[string]int{}
	for name, events := range map[string]int{"net": 2, "exec": 5} {
		ring := newRing(64<<10, events)
		_, err := p.Add(ring, func(sample []byte) error {
			counts[name]++
			return nil
		})
		ring.Close() // the Poller keeps its own descriptor
		if err != nil {
			log.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := p.Poll(ctx)
	fmt.Println(n, err, counts["net"], counts["exec"])
	// Output: 7 <nil> 2 5
}

// An in-memory ring follows the kernel's protocol, so a consumer can be
// tested without a kernel or privileges.
func ExampleNewInMemory() {
	producer, r, err := ringbuf.NewInMemory(4096)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	producer.Output([]byte("hello"), 0)
	s, _ := producer.Reserve(5)
	copy(s.Bytes(), "world")
	s.Submit(0)

	r.Consume(func(sample []byte) error {
		fmt.Printf("%s\n", sample)
		return nil
	})
	// Output:
	// hello
	// world
}
