package vmtests

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/refs"
	"github.com/bpfmaps/bpfmaps/ringbuf"
	"github.com/bpfmaps/bpfmaps/sys"
	"github.com/bpfmaps/bpfmaps/userringbuf"
)

// The end-to-end tests put the layers together the way a program would,
// with a BPF program on the other side of each map.

// flow is a tagged struct as a key: C struct { __be32 addr; __be16 port;
// __u8 proto; } (8 bytes with padding).
type flow struct {
	Addr  [4]byte `bpf:"be"`
	Port  uint16  `bpf:"be"`
	Proto uint8
}

// TestTypedMapEndToEnd writes struct keys through mapops, reads back what
// a program wrote, and walks the map with the default iteration.
func TestTypedMapEndToEnd(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 8, ValueSize: 8, MaxEntries: 64, Name: "e2e_flows"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	flows, err := mapops.NewTyped[flow, uint64](m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		k := flow{Addr: [4]byte{10, 0, 0, byte(i)}, Port: 443, Proto: unix.IPPROTO_TCP}
		if err := flows.Update(k, uint64(i)*100, mapops.NoExist); err != nil {
			t.Fatal(err)
		}
	}
	// The port is big-endian in the kernel's copy of the key.
	raw := make([]byte, 8)
	if err := m.NextKey(nil, raw); err != nil || raw[4] != 0x01 || raw[5] != 0xbb {
		t.Errorf("first key's bytes % x, %v: want port 443 big-endian at 4-5", raw, err)
	}
	sum := uint64(0)
	all, errf := flows.All()
	for k, v := range all {
		if uint64(k.Addr[3])*100 != v || k.Port != 443 {
			t.Errorf("entry %+v -> %d", k, v)
		}
		sum += v
	}
	if err := errf(); err != nil || sum != 4500 {
		t.Errorf("walk: sum %d, %v; want 4500", sum, err)
	}

	// A program bumps a counter; the typed view reads it.
	counts, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer counts.Close()
	prog, err := progs.Counter(counts.FD(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if _, err := progs.Run(prog, 7); err != nil {
		t.Fatal(err)
	}
	if n, err := counts.LookupInt(2); err != nil || n != 7 {
		t.Errorf("counter after 7 runs: %d, %v", n, err)
	}
}

// TestRingBufEndToEnd reads events a program writes to a ring, first
// through ringbuf.Reader, then as typed values through refs.
func TestRingBufEndToEnd(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	ring, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	prog, err := progs.EmitEvent(ring.FD())
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()

	r, err := ringbuf.NewReader(ring)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := progs.Run(prog, 3); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		rec, err := r.Read(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if len(rec.Sample) != progs.EventSize {
			t.Errorf("event %d is %d bytes, want %d", i, len(rec.Sample), progs.EventSize)
		}
	}
	r.Close()

	type event struct {
		TimeNS   uint64
		CPU, Len uint32
	}
	events, err := refs.NewRingBufRef[event](ring)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	go func() {
		time.Sleep(20 * time.Millisecond) // let Read block in epoll first
		progs.Run(prog, 1)
	}()
	ev, err := events.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev.TimeNS == 0 || ev.Len == 0 {
		t.Errorf("event %+v: want a time and a packet length", ev)
	}
}

// TestUserRingBufEndToEnd pushes samples from Go that a program drains.
func TestUserRingBufEndToEnd(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, progs.HaveUserRingBufDrain)
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ring := m.FD()
	drain, err := progs.NewUserRingBufDrain(ring, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer drain.Close()
	p, err := userringbuf.NewProducer(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 20
	var want uint64
	for i := range uint64(n) {
		sample := make([]byte, 16)
		binary.NativeEndian.PutUint32(sample, 16) // the length the program checks, in host order
		binary.NativeEndian.PutUint64(sample[8:], i)
		if err := p.Write(sample); err != nil {
			t.Fatal(err)
		}
		want += i
	}
	res, err := drain.Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Samples != n || res.Bytes != 16*n || res.TailSum != want || res.Bad != 0 {
		t.Errorf("kernel drained %+v; want %d samples of 16 bytes, tails summing to %d", res, n, want)
	}
}

// TestRefsEndToEnd waits through refs for what a program writes: a key
// that appears in a hash map, and a value pushed onto a queue.
func TestRefsEndToEnd(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	counts, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer counts.Close()
	watch, err := refs.NewMapWatcher[uint32, uint64](counts, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	prog, err := progs.UpdateHash(counts.FD(), 5, 55)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	go func() {
		time.Sleep(20 * time.Millisecond)
		progs.Run(prog, 1)
	}()
	v, ok, err := watch.WaitTimeout(10 * time.Second)
	if err != nil || !ok || v != 55 {
		t.Errorf("watch key 5: %d, %v, %v; want 55", v, ok, err)
	}

	queue, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer queue.Close()
	pops, err := refs.NewQueueRef[uint64](queue)
	if err != nil {
		t.Fatal(err)
	}
	defer pops.Close()
	push, err := progs.PushTime(queue.FD())
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	go func() {
		time.Sleep(20 * time.Millisecond)
		progs.Run(push, 1)
	}()
	ts, ok, err := pops.PopTimeout(10 * time.Second)
	if err != nil || !ok || ts == 0 {
		t.Errorf("pop of a kernel timestamp: %d, %v, %v", ts, ok, err)
	}
}
