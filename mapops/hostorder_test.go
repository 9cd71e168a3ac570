package mapops_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
)

// bigEndianHost: the machine stores integers most significant byte first.
var bigEndianHost = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// nativeBytes is v in host byte order in n bytes, as C stores a uint8_t,
// uint16_t, uint32_t or uint64_t.
func nativeBytes(v uint64, n int) []byte {
	b := make([]byte, 8)
	switch n {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(b, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	default:
		binary.NativeEndian.PutUint64(b, v)
	}
	return b[:n]
}

// TestIntsInHostOrder holds the integer views (UpdateInt, LookupInt,
// NextKeyInt) to the bytes a C program sharing the map uses: host byte
// order in the key's and value's width. On a big-endian machine (s390x in
// the kernel matrix) a little-endian encoding cut to width would store key
// 7 as 07 00 00 00, which C reads as 117440512.
func TestIntsInHostOrder(t *testing.T) {
	start(t)
	for _, n := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: uint32(n), ValueSize: uint32(n), MaxEntries: 4})
			key, value := uint64(0x07), uint64(0x0102030405060708)>>(64-8*n)
			if err := m.UpdateInt(key, value, mapops.Any); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, n)
			if err := m.Lookup(nativeBytes(key, n), got); err != nil {
				t.Fatalf("lookup of key %d as C stores it (% x): %v", key, nativeBytes(key, n), err)
			}
			if want := nativeBytes(value, n); string(got) != string(want) {
				t.Errorf("value bytes % x, want % x (%#x in host order)", got, want, value)
			}
			if err := m.Update(nativeBytes(9, n), nativeBytes(value, n), mapops.Any); err != nil {
				t.Fatal(err)
			}
			if v, err := m.LookupInt(9); err != nil || v != value {
				t.Errorf("LookupInt of a key written as C writes it: %#x, %v; want %#x", v, err, value)
			}
		})
	}
}
