package userringbuf_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
	"github.com/bpfmaps/bpfmaps/userringbuf"
)

// Producing into a BPF_MAP_TYPE_USER_RINGBUF map: reserve, fill in place,
// submit. A BPF program consumes the samples with bpf_user_ringbuf_drain.
func ExampleNewProducer() {
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: 1 << 16})
	if errors.Is(err, sys.ErrNotSupported) {
		fmt.Println("kernel before 6.1:", err)
		return
	} else if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	p, err := userringbuf.NewProducer(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	s, err := p.Reserve(16)
	if err != nil {
		fmt.Println(err)
		return
	}
	// struct { __u64 id, time_ns; }: host byte order, as the program reads it.
	binary.NativeEndian.PutUint64(s.Bytes(), 42)
	binary.NativeEndian.PutUint64(s.Bytes()[8:], uint64(time.Now().UnixNano()))
	if err := s.Submit(); err != nil {
		fmt.Println(err)
	}
}

// Testing a producer without a kernel: the in-memory Consumer drains the
// way bpf_user_ringbuf_drain does.
func ExampleNewInMemory() {
	p, c, err := userringbuf.NewInMemory(4096)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	p.Write([]byte("hello"))
	s, _ := p.Reserve(5)
	copy(s.Bytes(), "skip!")
	s.Discard()
	p.Write([]byte("world"))

	n, err := c.Drain(func(sample []byte) bool {
		fmt.Printf("%s\n", sample)
		return true // go on; false stops, like a callback returning 1
	}, 0)
	fmt.Println(n, err)
	// Output:
	// hello
	// world
	// 2 <nil>
}

// A full ring: Reserve fails at once with ENOSPC, ReserveBlocking waits
// for a drain, ReserveTimeout gives up after its timeout.
func ExampleProducer_ReserveBlocking() {
	p, c, _ := userringbuf.NewInMemory(4096)
	defer p.Close()

	p.Write(make([]byte, p.Size()-8)) // one sample fills the whole ring
	_, err := p.Reserve(8)
	fmt.Println(errors.Is(err, unix.ENOSPC))
	_, err = p.ReserveTimeout(8, 10*time.Millisecond)
	fmt.Println(errors.Is(err, unix.ENOSPC))

	go func() {
		time.Sleep(10 * time.Millisecond)
		c.Drain(func([]byte) bool { return true }, 0)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := p.ReserveBlocking(ctx, 8) // woken by the drain
	fmt.Println(len(s.Bytes()), err)
	s.Submit()
	// Output:
	// true
	// true
	// 8 <nil>
}

// WriteBatch copies many samples in with one check for room and one
// publication; when the ring fills, it says how many went in, and the
// rest can follow after a drain (or use WriteBatchBlocking).
func ExampleProducer_WriteBatch() {
	p, c, err := userringbuf.NewInMemory(4096)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = make([]byte, 56) // 64 bytes with the header: 64 fit the ring
		binary.NativeEndian.PutUint64(batch[i], uint64(i))
	}

	n, err := p.WriteBatch(batch)
	fmt.Println(n, errors.Is(err, unix.ENOSPC))
	drained, _ := c.Drain(func([]byte) bool { return true }, 0)
	m, err := p.WriteBatch(batch[n:])
	fmt.Println(drained, m, err)
	// Output:
	// 64 true
	// 64 36 <nil>
}
