package perf

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/epoll"
)

// Producer writes samples into the rings of an in-memory Reader by the
// kernel's rules for bpf_perf_event_output: the same record layout and
// padding, a sample that does not fit dropped and reported in a lost
// record before the next sample that fits, and a wake-up after every
// sample. It lets a Reader be tested and fuzzed without a kernel or
// privileges. It is safe for concurrent use.
type Producer struct {
	mu    sync.Mutex
	rings []*memWriter
	kick  *epoll.Event
}

// memWriter is the producer's side of one CPU's ring.
type memWriter struct {
	r    *ring
	data []byte
	head uint64
	lost uint64 // dropped since the last lost record
}

// NewInMemory returns a Producer and a Reader over cpus rings of size
// bytes each in ordinary memory (size a power of two multiple of the
// page size, as for RingSize), for CPUs 0 to cpus-1.
func NewInMemory(cpus, size int) (*Producer, *Reader, error) {
	const op = "perf: new in-memory ring"
	if err := checkRingSize(size); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	if cpus <= 0 || cpus > 1<<12 {
		return nil, nil, fmt.Errorf("%s: %d CPUs, want 1 to 4096: %w", op, cpus, unix.EINVAL)
	}
	kick, err := epoll.NewEvent()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	r := &Reader{possible: cpus, kick: kick, mapped: true}
	p := &Producer{kick: kick}
	for cpu := range cpus {
		data := make([]byte, size)
		rg := newRing(make([]byte, os.Getpagesize()), data, cpu)
		r.cpus = append(r.cpus, cpu)
		r.rings = append(r.rings, rg)
		p.rings = append(p.rings, &memWriter{r: rg, data: data})
	}
	if r.poll, err = epoll.New(); err == nil {
		err = r.poll.Add(kick.FD(), 0, unix.EPOLLIN|unix.EPOLLET)
	}
	if err != nil {
		r.free()
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return p, r, nil
}

// Output writes data as a sample into cpu's ring, as
// bpf_perf_event_output(ctx, &map, cpu, data, len(data)) does. It fails
// with an error wrapping unix.ENOSPC when the ring has no room (the
// sample is counted as lost), unix.E2BIG when the record would exceed
// the 64 KiB a perf record header can describe, and unix.EINVAL for a
// CPU out of range.
func (p *Producer) Output(cpu int, data []byte) error {
	if cpu < 0 || cpu >= len(p.rings) {
		return fmt.Errorf("perf: output: cpu %d out of range (%d rings): %w", cpu, len(p.rings), unix.EINVAL)
	}
	raw := (len(data)+4+7)&^7 - 4 // the kernel's padding
	size := hdrSize + 4 + raw
	if size > 0xffff {
		return fmt.Errorf("perf: output: sample of %d bytes: %w", len(data), unix.E2BIG)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.rings[cpu]
	need := uint64(size)
	if w.lost > 0 {
		need += lostSize
	}
	// The kernel keeps one byte free (CIRC_SPACE), so a ring holds at
	// most size-8 bytes of 8-byte aligned records.
	if free := w.r.size - 1 - (w.head - atomic.LoadUint64(w.r.tail)); free < need {
		w.lost++
		return fmt.Errorf("perf: output: cpu %d ring full: %w", cpu, unix.ENOSPC)
	}
	if w.lost > 0 {
		var rec [lostSize]byte
		putHeader(rec[:], recLost, lostSize)
		binary.NativeEndian.PutUint64(rec[16:], w.lost)
		w.put(rec[:])
		w.lost = 0
	}
	var h [sampleMin]byte
	putHeader(h[:], recSample, size)
	binary.NativeEndian.PutUint32(h[hdrSize:], uint32(raw))
	w.put(h[:])
	w.put(data)
	w.head += uint64(raw - len(data)) // the padding is not written, as in the kernel
	atomic.StoreUint64(w.r.head, w.head)
	p.kick.Signal()
	return nil
}

func putHeader(b []byte, typ uint32, size int) {
	binary.NativeEndian.PutUint32(b[0:], typ)
	binary.NativeEndian.PutUint16(b[4:], 0)
	binary.NativeEndian.PutUint16(b[6:], uint16(size))
}

// put writes b at the head, wrapping around the end, and moves the head.
func (w *memWriter) put(b []byte) {
	off := int(w.head & (w.r.size - 1))
	n := copy(w.data[off:], b)
	copy(w.data, b[n:])
	w.head += uint64(len(b))
}
