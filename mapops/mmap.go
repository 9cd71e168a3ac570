package mapops

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Memory returns the values of an array created with unix.BPF_F_MMAPABLE,
// mapped into this process: element i is the ValueSize bytes at
// i*sys.ValueStride(ValueSize()). Reads and writes go straight to the
// kernel's memory, without system calls, and see BPF programs' writes at
// once (use sync/atomic on aligned words where that matters).
//
// The mapping is made once and lives until Close. It is writable unless
// the map was frozen before the first call, in which case it is read-only
// and writing to it faults (MemoryWritable reports which). While a
// writable mapping exists, Freeze fails with EBUSY.
//
// Close detaches the slice from the map instead of unmapping it: its
// memory becomes ordinary private memory (zeros, then whatever is written
// to it), so a slice held across Close never faults and never aliases
// another map mapped later at the same address. The memory is Go's: it
// is freed by the garbage collector once no slice refers to it.
func (m *Map) Memory() ([]byte, error) {
	if m == nil {
		return nil, nilMap("memory")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.life.Closed() {
		return nil, &sys.OpError{Object: m.String(), Op: "memory", Err: os.ErrClosed}
	}
	if m.mem != nil {
		return m.mem.b[:m.memLen()], nil
	}
	if m.typ != unix.BPF_MAP_TYPE_ARRAY || m.flags&unix.BPF_F_MMAPABLE == 0 {
		return nil, &sys.OpError{Object: m.String(), Op: "memory", Err: errors.New("only arrays created with BPF_F_MMAPABLE can be mapped")}
	}
	n, ok := mulSize(sys.ValueStride(m.valueSize), int(m.maxEntries))
	if !ok || n > math.MaxInt-2*os.Getpagesize() {
		return nil, &sys.OpError{Object: m.String(), Op: "memory", Err: fmt.Errorf("%d values of %d bytes do not fit in memory", m.maxEntries, m.valueSize)}
	}
	raw, err := m.fd.Acquire()
	if err != nil {
		return nil, &sys.OpError{Object: m.String(), Op: "memory", Err: err}
	}
	defer m.fd.Release()
	mem, err := mapInto(raw, n)
	if err != nil {
		return nil, &sys.OpError{Object: m.String(), Op: "memory", Err: err}
	}
	m.mem = mem
	return mem.b[:n], nil
}

// mapping is the memory Memory hands out: the map, mapped over pages of
// a Go allocation so that the garbage collector knows when no slice
// refers to it any more.
type mapping struct {
	b  []byte // the mapped pages, inside the Go allocation
	rw bool   // mapped writable
	at *pages
}

// pages is where a mapping lies. It holds no pointer into the Go
// allocation, which the finalizer that detaches it must not keep alive.
type pages struct {
	addr, size uintptr
	mu         sync.Mutex
	detached   bool // only once the anonymous memory is in place
}

// lost holds Go allocations whose pages could not be given back to Go
// after a failed mapping: the runtime must never reuse them.
var lost struct {
	sync.Mutex
	bufs [][]byte
}

// mapInto maps n bytes of the map raw over whole pages of a new Go
// allocation: it maps the map anywhere (writable if the kernel allows,
// else read-only), then moves that mapping onto the allocation's pages
// with mremap, which replaces them in one step. A finalizer on the
// allocation detaches the pages again before the garbage collector frees
// it, so Go gets ordinary memory back.
func mapInto(raw, n int) (*mapping, error) {
	page := os.Getpagesize()
	size := (n + page - 1) / page * page
	p, err := unix.MmapPtr(raw, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	rw := true
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) { // frozen
		p, err = unix.MmapPtr(raw, 0, nil, uintptr(size), unix.PROT_READ, unix.MAP_SHARED)
		rw = false
	}
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	alloc := make([]byte, size+page)
	off := (page - int(uintptr(unsafe.Pointer(&alloc[0]))%uintptr(page))) % page
	b := alloc[off : off+size : off+size]
	at := &pages{addr: uintptr(unsafe.Pointer(&b[0])), size: uintptr(size)}
	// The raw call: unix.MremapPtr turns the address it returns, which
	// lies in the Go heap, into a pointer, which checkptr refuses.
	if _, _, e := unix.Syscall6(unix.SYS_MREMAP, uintptr(p), uintptr(size), uintptr(size),
		unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, at.addr, 0); e != 0 {
		err := error(e)
		unix.MunmapPtr(p, uintptr(size))
		if at.detach() != nil {
			lost.Lock()
			lost.bufs = append(lost.bufs, alloc)
			lost.Unlock()
		}
		return nil, fmt.Errorf("mremap: %w", err)
	}
	runtime.SetFinalizer(&alloc[0], func(p *byte) {
		if at.detach() != nil {
			// The map's pages are still there: Go must never reuse them
			// (a frozen map's are read-only). Keep the allocation for good.
			lost.Lock()
			lost.bufs = append(lost.bufs, unsafe.Slice(p, at.size))
			lost.Unlock()
		}
	})
	return &mapping{b: b, rw: rw, at: at}, nil
}

// detach replaces the pages, whatever is mapped there, with private
// anonymous memory in one step (MAP_FIXED). It is done once it has
// succeeded; a failed detach leaves the pages as they were, to be tried
// again (by the finalizer, which keeps the allocation from Go for good
// when it fails too).
func (at *pages) detach() error {
	at.mu.Lock()
	defer at.mu.Unlock()
	if at.detached {
		return nil
	}
	if e := mmapAnonFixed(at.addr, at.size); e != 0 {
		return fmt.Errorf("detach mapped memory: %w", e)
	}
	at.detached = true
	return nil
}

func (m *Map) memLen() int { return sys.ValueStride(m.valueSize) * int(m.maxEntries) }

// MemoryWritable reports whether the slice Memory returned may be written.
func (m *Map) MemoryWritable() bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mem != nil && m.mem.rw
}

// MemoryOf returns Memory as a slice of MaxEntries values of V, for a V
// whose Go memory is its C layout and whose size is the array's element
// stride (ValueSize rounded up to 8): uint64, [2]uint32, a struct of
// uint64 counters, …. The slice follows Memory's rules across Close.
func MemoryOf[V any](m *Map) ([]V, error) {
	if m == nil {
		return nil, nilMap("memory")
	}
	vc, err := structcodec.For[V]()
	if err != nil {
		return nil, &sys.OpError{Object: m.String(), Op: "memory", Err: err}
	}
	p := vc.Layout().Plan()
	size := unsafe.Sizeof(*new(V))
	if err := vc.Layout().RawError(); err != nil {
		return nil, &sys.OpError{Object: m.String(), Op: "memory", Err: fmt.Errorf("%v cannot overlay the map's values: %w", vc.Layout().Type(), err)}
	}
	if p.Size != m.valueSize || int(size) != sys.ValueStride(m.valueSize) {
		return nil, fmt.Errorf("%s: memory: %v (%d bytes) cannot overlay values of %d bytes in %d-byte slots",
			m, vc.Layout().Type(), size, m.valueSize, sys.ValueStride(m.valueSize))
	}
	mem, err := m.Memory()
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*V)(unsafe.Pointer(unsafe.SliceData(mem))), m.maxEntries), nil
}
