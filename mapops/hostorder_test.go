package mapops_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
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

// TestPutUintAgainstGCC holds PutUint and Uint to the bytes C keeps an
// integer of each width in on this machine, 128 bits included.
func TestPutUintAgainstGCC(t *testing.T) {
	out := testutil.RunC(t, `#include <stdio.h>
#include <stdint.h>
static void dump(const void *p, size_t n) {
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}
int main(void) {
	uint8_t a = 0x12;
	uint16_t b = 0x1234;
	uint32_t c = 0x12345678;
	uint64_t d = 0x123456789abcdef0ULL;
	unsigned __int128 e = 0x123456789abcdef0ULL;
	dump(&a, 1); dump(&b, 2); dump(&c, 4); dump(&d, 8); dump(&e, 16);
	return 0;
}
`)
	want := strings.Fields(string(out))
	values := []uint64{0x12, 0x1234, 0x12345678, 0x123456789abcdef0, 0x123456789abcdef0}
	for i, n := range []int{1, 2, 4, 8, 16} {
		b := make([]byte, n)
		if err := mapops.PutUint(b, values[i]); err != nil {
			t.Fatalf("PutUint(%d bytes, %#x): %v", n, values[i], err)
		}
		if got := hex.EncodeToString(b); got != want[i] {
			t.Errorf("PutUint(%d bytes, %#x) = %s, C stores %s", n, values[i], got, want[i])
		}
		if v, err := mapops.Uint(b); v != values[i] || err != nil {
			t.Errorf("Uint(%x) = %#x, %v; want %#x", b, v, err, values[i])
		}
	}
}

// TestPutUintRefuses: a value too wide for the bytes, no bytes at all, and
// an integer wider than 64 bits are errors, and a failed PutUint writes
// nothing.
func TestPutUintRefuses(t *testing.T) {
	b := []byte{0xaa, 0xbb}
	if err := mapops.PutUint(b, 0x10000); err == nil || !strings.Contains(err.Error(), "does not fit in 2 bytes") {
		t.Errorf("PutUint(2 bytes, 0x10000) = %v", err)
	}
	if b[0] != 0xaa || b[1] != 0xbb {
		t.Errorf("a failed PutUint wrote % x", b)
	}
	if err := mapops.PutUint(nil, 1); err == nil {
		t.Error("PutUint(no bytes) succeeded")
	}
	if _, err := mapops.Uint(nil); err == nil {
		t.Error("Uint(no bytes) succeeded")
	}
	wide := make([]byte, 16)
	wide[0], wide[15] = 1, 1 // a high bit at either end, whatever the byte order
	if _, err := mapops.Uint(wide); err == nil || !strings.Contains(err.Error(), "does not fit in 64 bits") {
		t.Errorf("Uint of a 128-bit value over 64 bits = %v", err)
	}
	// Three bytes, a width no C integer has but a key may: host order too.
	b3 := make([]byte, 3)
	if err := mapops.PutUint(b3, 0x010203); err != nil {
		t.Fatal(err)
	}
	if want := nativeBytes(0x010203, 4); bigEndianHost && string(b3) != string(want[1:]) || !bigEndianHost && string(b3) != string(want[:3]) {
		t.Errorf("PutUint(3 bytes, 0x010203) = % x", b3)
	}
	if v, err := mapops.Uint(b3); v != 0x010203 || err != nil {
		t.Errorf("Uint(% x) = %#x, %v", b3, v, err)
	}
}

// TestUintMatchesIntMethods: the standalone encoding is the one the
// integer methods of Map use.
func TestUintMatchesIntMethods(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 2, ValueSize: 4, MaxEntries: 4})
	if err := m.UpdateInt(0x0102, 0x0a0b0c0d, mapops.Any); err != nil {
		t.Fatal(err)
	}
	k, v := make([]byte, 2), make([]byte, 4)
	if err := mapops.PutUint(k, 0x0102); err != nil {
		t.Fatal(err)
	}
	if err := m.Lookup(k, v); err != nil {
		t.Fatalf("lookup of the key PutUint encoded: %v", err)
	}
	if got, err := mapops.Uint(v); got != 0x0a0b0c0d || err != nil {
		t.Errorf("Uint of UpdateInt's value = %#x, %v", got, err)
	}
}
