package perf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"sync/atomic"
	"testing"
)

// memRing is a perf ring in ordinary memory with a writer that lays
// records out as the kernel does, wrapping around the end of the data
// area.
type memRing struct {
	meta, data []byte
	*ring
	head uint64 // the writer's position
}

func newMemRing(size int) *memRing {
	m := &memRing{meta: make([]byte, os.Getpagesize()), data: make([]byte, size)}
	m.ring = newRing(m.meta, m.data, 3)
	return m
}

// put writes b at the writer's position, wrapping.
func (m *memRing) put(pos uint64, b []byte) {
	for i, c := range b {
		m.data[(pos+uint64(i))&uint64(len(m.data)-1)] = c
	}
}

// record writes a record of type typ with body (the record's size is
// 8 + len(body), which the caller keeps a multiple of 8), without
// publishing it.
func (m *memRing) record(typ uint32, body []byte) {
	var h [8]byte
	binary.NativeEndian.PutUint32(h[0:], typ)
	binary.NativeEndian.PutUint16(h[6:], uint16(8+len(body)))
	m.put(m.head, h[:])
	m.put(m.head+8, body)
	m.head += uint64(8 + len(body))
}

// sample writes a sample of raw bytes padded as the kernel pads them and
// returns the padded raw bytes.
func (m *memRing) sample(raw []byte) []byte {
	n := (len(raw)+4+7)&^7 - 4
	padded := make([]byte, n)
	copy(padded, raw)
	body := binary.NativeEndian.AppendUint32(nil, uint32(n))
	m.record(recSample, append(body, padded...))
	return padded
}

func (m *memRing) lost(n uint64) {
	body := binary.NativeEndian.AppendUint64(nil, 7)
	m.record(recLost, binary.NativeEndian.AppendUint64(body, n))
}

func (m *memRing) publishHead() { atomic.StoreUint64(m.ring.head, m.head) }

func (m *memRing) tailPos() uint64 { return atomic.LoadUint64(m.ring.tail) }

// TestRingWrapsAtEveryOffset writes samples whose records straddle the
// end of the data area at every 8-byte offset and checks that each is
// read byte for byte, and that the tail follows.
func TestRingWrapsAtEveryOffset(t *testing.T) {
	const size = 256
	m := newMemRing(size)
	var rec Record
	for round := range 2 * size / 8 {
		raw := make([]byte, 5+round%40)
		for i := range raw {
			raw[i] = byte(round*7 + i)
		}
		want := m.sample(raw)
		m.publishHead()
		ok, err := m.read(&rec)
		if err != nil || !ok {
			t.Fatalf("round %d: read: %v, %v", round, ok, err)
		}
		if !bytes.Equal(rec.RawSample, want) || rec.CPU != 3 || rec.LostSamples != 0 {
			t.Fatalf("round %d: got %x on cpu %d lost %d, want %x on cpu 3", round, rec.RawSample, rec.CPU, rec.LostSamples, want)
		}
		if got := m.tailPos(); got != m.head {
			t.Fatalf("round %d: tail %d, want %d", round, got, m.head)
		}
		if ok, err := m.read(&rec); ok || err != nil {
			t.Fatalf("round %d: read of an empty ring: %v, %v", round, ok, err)
		}
	}
}

// TestRingLostAndUnknown: lost records are counted and returned, records
// of other types are stepped over.
func TestRingLostAndUnknown(t *testing.T) {
	m := newMemRing(512)
	m.record(5, make([]byte, 16)) // PERF_RECORD_THROTTLE: stepped over
	m.lost(5)
	m.record(77, nil)
	want := m.sample([]byte("hello"))
	m.lost(2)
	m.publishHead()
	var rec Record
	for i, w := range []struct {
		lost uint64
		raw  []byte
	}{{5, nil}, {0, want}, {2, nil}} {
		ok, err := m.read(&rec)
		if !ok || err != nil {
			t.Fatalf("record %d: %v, %v", i, ok, err)
		}
		if rec.LostSamples != w.lost || !bytes.Equal(rec.RawSample, w.raw) {
			t.Fatalf("record %d: lost %d raw %q, want lost %d raw %q", i, rec.LostSamples, rec.RawSample, w.lost, w.raw)
		}
	}
	if got := m.ring.lost.Load(); got != 7 {
		t.Fatalf("lost count %d, want 7", got)
	}
	if len(want) != 12 { // 4 + 5 rounded up to 16, less the 4-byte size
		t.Fatalf("padded sample of 5 bytes is %d bytes, want 12", len(want))
	}
}

// TestRingCorrupt: headers and sizes that break the protocol give
// ErrCorrupt, and no read runs past the ring.
func TestRingCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(m *memRing)
	}{
		{"size 0", func(m *memRing) { m.record(recSample, nil); m.put(6, []byte{0, 0}); m.head = 64 }},
		{"size 4", func(m *memRing) { m.record(recSample, nil); m.put(6, []byte{4, 0}); m.head = 64 }},
		{"size past head", func(m *memRing) { m.sample(make([]byte, 20)); m.head -= 8 }},
		{"size above ring", func(m *memRing) {
			m.record(recSample, nil)
			binary.NativeEndian.PutUint16(m.data[6:], 1024)
			m.head = 128
		}},
		{"raw size above record", func(m *memRing) {
			m.sample(make([]byte, 4))
			binary.NativeEndian.PutUint32(m.data[8:], 100)
		}},
		{"sample too short", func(m *memRing) { m.record(recSample, nil) }},
		{"lost too short", func(m *memRing) { m.record(recLost, make([]byte, 8)) }},
		{"head too far", func(m *memRing) { m.head = 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemRing(128)
			tc.write(m)
			m.publishHead()
			var rec Record
			ok, err := m.read(&rec)
			if ok || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: %v, %v; want ErrCorrupt", ok, err)
			}
			if _, err2 := m.read(&rec); !errors.Is(err2, ErrCorrupt) {
				t.Fatalf("second read: %v; want ErrCorrupt again", err2)
			}
		})
	}
}

// FuzzRead runs the reader over arbitrary ring memory: the first 16
// bytes are the tail and head, the rest the data area (cut to a power of
// two). It must never panic, read outside the ring or loop forever.
func FuzzRead(f *testing.F) {
	m := newMemRing(64)
	m.sample([]byte("abc"))
	m.lost(3)
	m.record(42, make([]byte, 8))
	seed := binary.NativeEndian.AppendUint64(nil, 0)
	seed = binary.NativeEndian.AppendUint64(seed, m.head)
	f.Add(append(seed, m.data...))
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 17 {
			return
		}
		tail, head := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
		data := b[16:]
		size := 1
		for size*2 <= len(data) {
			size *= 2
		}
		data = append([]byte(nil), data[:size]...)
		meta := make([]byte, os.Getpagesize())
		binary.NativeEndian.PutUint64(meta[tailOffset:], tail)
		binary.NativeEndian.PutUint64(meta[headOffset:], head)
		// Consume, in place, must stop as safely.
		var scratch []byte
		var view Record
		c := newRing(append([]byte(nil), meta...), data, 0)
		if _, err := c.consume(&view, &scratch, size+1, func(rec *Record) error {
			if len(rec.RawSample) > size {
				t.Fatalf("sample of %d bytes from a ring of %d", len(rec.RawSample), size)
			}
			return nil
		}); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("consume: error not wrapping ErrCorrupt: %v", err)
		}
		r := newRing(meta, data, 0)
		var rec Record
		for i := 0; ; i++ {
			ok, err := r.read(&rec)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error not wrapping ErrCorrupt: %v", err)
				}
				return
			}
			if !ok {
				if r.pos != head {
					t.Fatalf("stopped at %#x, head %#x", r.pos, head)
				}
				return
			}
			if i > size {
				t.Fatalf("more than %d records from %d bytes", i, size)
			}
			if len(rec.RawSample) > size {
				t.Fatalf("sample of %d bytes from a ring of %d", len(rec.RawSample), size)
			}
		}
	})
}

// TestRingConsumeInPlace: a contiguous sample is handed over in place, a
// wrapping one through the scratch buffer, both byte for byte.
func TestRingConsumeInPlace(t *testing.T) {
	m := newMemRing(128)
	var rec Record
	var scratch []byte
	for round := range 16 {
		raw := bytes.Repeat([]byte{byte(round)}, 20) // records of 40 bytes
		want := m.sample(raw)
		m.publishHead()
		n, err := m.consume(&rec, &scratch, 8, func(rec *Record) error {
			off := (m.head - uint64(len(want))) & 127
			inPlace := len(rec.RawSample) > 0 && &rec.RawSample[0] == &m.data[off]
			if wraps := off+uint64(len(want)) > 128; inPlace == wraps {
				t.Errorf("round %d: in place %v, wraps %v", round, inPlace, wraps)
			}
			if !bytes.Equal(rec.RawSample, want) {
				t.Errorf("round %d: %x, want %x", round, rec.RawSample, want)
			}
			return nil
		})
		if n != 1 || err != nil {
			t.Fatalf("round %d: %d, %v", round, n, err)
		}
	}
}
