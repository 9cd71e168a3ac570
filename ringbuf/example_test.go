package ringbuf_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/ringbuf"
)

// Reading the events a BPF program writes into a ring buffer map that its
// loader pinned: each Read waits in epoll until there is a record, and
// Close, from any goroutine, ends a blocked Read at once. (It needs the
// pinned map and privileges, so it is not run as a test.)
func ExampleNewReader() {
	events, err := mapops.Open("/sys/fs/bpf/events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer events.Close()
	r, err := ringbuf.NewReader(events)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rec ringbuf.Record
	for {
		if err := r.ReadInto(ctx, &rec); err != nil { // reuses rec.Sample
			fmt.Println(err)
			return
		}
		fmt.Printf("event of %d bytes\n", len(rec.Sample))
	}
}

// The Reader's methods on an in-memory ring, which follows the kernel's
// protocol: here the Producer plays the BPF program, so the example runs
// without a kernel or privileges.
func ExampleReader() {
	producer, r, err := ringbuf.NewInMemory(4096)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for i := range 3 {
		event := binary.NativeEndian.AppendUint64(nil, uint64(100+i))
		producer.Write(event) // bpf_ringbuf_output
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec, err := r.Read(ctx) // a copy, valid after the call
	fmt.Println("first event:", binary.NativeEndian.Uint64(rec.Sample), err)

	n, err := r.Consume(func(sample []byte) error {
		return nil // sample is valid only during the call: decode or copy it here
	})
	fmt.Println("then, in place:", n, err)

	// Nothing more: a deadline ends the wait, as with os.File.
	r.SetDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = r.Read(ctx)
	fmt.Println(err)
	// Output:
	// first event: 100 <nil>
	// then, in place: 2 <nil>
	// ringbuf: read: deadline passed: i/o timeout
}

// ReadBatch copies out every record waiting in the ring, up to the length
// of the slice, under one lock: the fast way to drain a busy ring into
// memory that outlives the call. The Records and their Samples are reused
// from call to call.
func ExampleReader_ReadBatch() {
	producer, r, err := ringbuf.NewInMemory(64 << 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for range 100 {
		producer.Write(make([]byte, 16))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs := make([]ringbuf.Record, 64)
	for total := 0; total < 100; {
		n, err := r.ReadBatch(ctx, recs)
		for _, rec := range recs[:n] {
			_ = rec.Sample // a copy: keep it until the next ReadBatch
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		total += n
		fmt.Println("batch of", n, "records, then", recs[n-1].Remaining, "bytes waiting")
	}
	// Output:
	// batch of 64 records, then 864 bytes waiting
	// batch of 36 records, then 0 bytes waiting
}

// A Poller serves many rings from one goroutine, each with its own
// handler, like libbpf's ring_buffer__add and ring_buffer__poll. Poller.Add
// takes a map; AddReader, used here, any Reader.
func ExamplePoller() {
	p, err := ringbuf.NewPoller()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close() // closes the rings too
	counts := map[string]int{}
	for name, events := range map[string]int{"net": 2, "exec": 5} {
		producer, r, err := ringbuf.NewInMemory(4096)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := p.AddReader(r, func(sample []byte) error { counts[name]++; return nil }); err != nil {
			fmt.Println(err)
			return
		}
		for range events {
			producer.Write([]byte(name))
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := p.Poll(ctx)
	fmt.Println(n, err, counts["net"], counts["exec"])
	// Output: 7 <nil> 2 5
}

// Reserve, fill in place, then Submit or Discard: the in-memory Producer
// writes as bpf_ringbuf_reserve and bpf_ringbuf_submit do, so a consumer
// can be tested without a kernel or privileges.
func ExampleNewInMemory() {
	producer, r, err := ringbuf.NewInMemory(4096)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	producer.Write([]byte("hello"))
	s, err := producer.Reserve(5)
	if err != nil {
		fmt.Println(err)
		return
	}
	copy(s.Bytes(), "world")
	s.Submit()
	if _, err := producer.Reserve(1 << 20); errors.Is(err, unix.E2BIG) {
		fmt.Println("too large for the ring")
	}

	r.Consume(func(sample []byte) error {
		fmt.Printf("%s\n", sample)
		return nil
	})
	// Output:
	// too large for the ring
	// hello
	// world
}
