package refs_test

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/refs"
	"github.com/bpfmaps/bpfmaps/sys"
)

// flowKey and flowStats are tagged structs: C layout with padding, a
// big-endian port.
type flowKey struct {
	Addr uint32 `bpf:"be"`
	Port uint16 `bpf:"be"`
	// 2 bytes of padding in C
}

type flowStats struct {
	Packets uint32
	Proto   uint8
	// 3 bytes of padding in C
}

func TestTaggedStructs(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 8, 8, 4)
	key := flowKey{Addr: 0x0a000001, Port: 443} // 10.0.0.1:443
	r, err := refs.NewEntryRef[flowKey, flowStats](m, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// A writer outside Go puts the value in, with garbage in the padding:
	// Packets in host byte order, as C stores it.
	var raw [8]byte
	binary.NativeEndian.PutUint32(raw[:], 3)
	raw[4], raw[5], raw[6], raw[7] = 6, 0xaa, 0xbb, 0xcc // Proto, padding
	rawKey := [8]byte{10, 0, 0, 1, 0x01, 0xbb}           // 443 big-endian
	if err := sys.MapUpdateElem(m.FD(), unsafe.Pointer(&rawKey), unsafe.Pointer(&raw), 0); err != nil {
		t.Fatal(err)
	}
	v, ok, err := r.Load()
	if !ok || err != nil || v != (flowStats{Packets: 3, Proto: 6}) {
		t.Fatalf("Load = %+v, %v, %v; want {3 6} under the big-endian key", v, ok, err)
	}
	// Padding does not count: the value equals {3 6} as a flowStats.
	if ok, err := r.CompareAndSwap(flowStats{3, 6}, flowStats{4, 6}); !ok || err != nil {
		t.Fatalf("CompareAndSwap over a value with dirty padding = %v, %v; want true", ok, err)
	}
	if err := sys.MapLookupElem(m.FD(), unsafe.Pointer(&rawKey), unsafe.Pointer(&raw), 0); err != nil {
		t.Fatal(err)
	}
	var want [8]byte
	binary.NativeEndian.PutUint32(want[:], 4)
	want[4] = 6
	if raw != want {
		t.Fatalf("map holds % x, want % x: Packets 4, Proto 6 and zero padding", raw, want)
	}

	// The same through a queue.
	q := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 8, 4)
	ch, err := refs.NewQueueChannel[flowKey](q)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ch.Push(key)
	if got, ok, err := ch.PopTimeout(0); got != key || !ok || err != nil {
		t.Fatalf("PopTimeout = %+v, %v, %v; want %+v", got, ok, err, key)
	}
}
