package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/epoll"
	"github.com/bpfmaps/bpfmaps/internal/ringproto"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// ErrRingSize is wrapped by the error NewReader returns for a per-CPU
// ring size the kernel would refuse: not a power of two multiple of the
// page size, or above MaxRingSize. The error wraps unix.EINVAL too.
var ErrRingSize = errors.New("bad per-CPU ring size")

// ErrTooFewEntries is wrapped by the error NewReader returns when the
// perf event array has fewer entries than the CPUs it must serve: the
// kernel writes a CPU's samples to the entry at the CPU's number, so the
// map needs one more entry than the highest online CPU number.
var ErrTooFewEntries = errors.New("perf event array has fewer entries than CPUs")

const (
	// DefaultRingSize is the size in bytes of each CPU's data area when
	// RingSize is not given.
	DefaultRingSize = 64 << 10
	// MaxRingSize is the largest per-CPU ring size NewReader accepts,
	// 1 GiB: far above what perf_event_mlock_kb lets an unprivileged
	// process lock, and what the kernel can allocate for one perf ring.
	MaxRingSize = 1 << 30
)

// Option configures a Reader.
type Option func(*options)

type options struct {
	size      int
	wakeup    int
	watermark bool
}

// RingSize sets the size in bytes of each CPU's data area: a power of two
// multiple of the page size, at most MaxRingSize (default
// DefaultRingSize). The kernel drops the samples that do not fit and
// counts them in a lost record.
func RingSize(bytes int) Option { return func(o *options) { o.size = bytes } }

// WakeupEvents makes the kernel wake a waiting reader after every n
// samples written to a CPU's ring (default 1, every sample). Records are
// read before any wait, so a larger n only delays a reader that is
// already asleep.
func WakeupEvents(n int) Option {
	return func(o *options) { o.wakeup, o.watermark = n, false }
}

// Watermark makes the kernel wake a waiting reader once a CPU's ring holds
// at least bytes bytes of records, instead of counting samples.
func Watermark(bytes int) Option {
	return func(o *options) { o.wakeup, o.watermark = bytes, true }
}

// Record is one record read from a CPU's ring: a sample, or a report of
// samples the kernel dropped because the ring was full.
type Record struct {
	// CPU is the CPU whose ring held the record.
	CPU int
	// RawSample holds the bytes the program passed to
	// bpf_perf_event_output, followed by up to 7 bytes of padding: the
	// kernel pads every sample so that records stay 8-byte aligned
	// (4 bytes of size and the data round up to a multiple of 8). The
	// kernel does not write the padding, so its bytes are whatever the
	// ring held there before: a program that needs the exact length
	// sends it in the sample. ReadInto reuses its capacity. It is empty
	// in a lost record.
	RawSample []byte
	// LostSamples is, in a lost record, how many samples the kernel
	// dropped on this CPU because its ring was full; 0 in a sample.
	LostSamples uint64
}

// Reader reads the samples BPF programs write with bpf_perf_event_output
// to a BPF_MAP_TYPE_PERF_EVENT_ARRAY map: one perf event and one mapped
// ring per online CPU, whose descriptors NewReader stores in the map at
// the CPU's index.
//
// Read and ReadInto copy one record out, taking CPUs in turn, and block
// until there is one; records already in a ring are always returned
// before any wait. All methods are safe for concurrent use; each record
// goes to exactly one caller. Close wakes every blocked call at once and
// removes the Reader's entries from the map.
type Reader struct {
	mu      sync.Mutex // held while a read uses the cursors and the ring memory
	rings   []*ring    // set by NewReader, never changed
	cpus    []int
	turn    int    // under mu: the ring to look at first
	view    Record // under mu: Consume's record, pointing into the rings
	scratch []byte // under mu: Consume's copy of a sample that wraps
	mapped  bool   // under mu: false once the rings are freed

	offline  []int
	possible int
	m        *mapops.Map // the Reader's own handle on the map
	stored   int         // how many of cpus have their event in the map
	events   []*sys.FD
	kick     *epoll.Event // an in-memory Reader's wake-ups, from its Producer
	mems     [][]byte

	life sys.Lifetime
	poll *epoll.Poller
}

// NewReader opens a Reader of m, a BPF_MAP_TYPE_PERF_EVENT_ARRAY map: for
// every possible CPU that is online it opens a perf event
// (PERF_COUNT_SW_BPF_OUTPUT, raw samples) bound to that CPU, maps its ring
// (one metadata page and the data area) and stores the event's descriptor
// in the map at the CPU's index. CPUs that are offline get no ring and are
// listed by OfflineCPUs; a CPU that comes online later is not read. On any
// failure everything done so far is undone.
//
// It works on its own duplicate of m's descriptor: the caller keeps m and
// may close it. It fails with an error wrapping ErrRingSize for a bad
// RingSize (before any system call), ErrTooFewEntries when the map has
// fewer entries than the highest online CPU number plus one, and
// unix.EBUSY while another Reader of the same map is open in this
// process (each would replace the other's descriptors in the map), and
// unix.EACCES for a descriptor of the map that is not read-write.
// Opening the perf events needs CAP_PERFMON or CAP_SYS_ADMIN (or a
// permissive perf_event_paranoid).
func NewReader(m *mapops.Map, opts ...Option) (*Reader, error) {
	const op = "new perf reader"
	o := options{size: DefaultRingSize, wakeup: 1}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if err := checkRingSize(o.size); err != nil {
		return nil, opError(m, op, err)
	}
	if o.wakeup <= 0 || uint64(o.wakeup) > 1<<31 {
		what := "wakeup events"
		if o.watermark {
			what = "watermark"
		}
		return nil, opError(m, op, fmt.Errorf("%s %d is out of range (1 to 2^31): %w", what, o.wakeup, unix.EINVAL))
	}
	if o.watermark && o.wakeup > o.size {
		return nil, opError(m, op, fmt.Errorf("watermark %d is larger than the ring size %d: no wake-up would come: %w", o.wakeup, o.size, unix.EINVAL))
	}
	if m == nil {
		return nil, opError(m, op, os.ErrInvalid)
	}
	if m.Type() != unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY {
		return nil, opError(m, op, fmt.Errorf("map is a %s, not a perf_event_array: %w", m.Type(), unix.EINVAL))
	}
	possible, err := sys.PossibleCPUs()
	if err != nil {
		return nil, opError(m, op, err)
	}
	online, err := sys.OnlineCPUs()
	if err != nil {
		return nil, opError(m, op, err)
	}
	var cpus, offline []int
	for c := range possible {
		if slices.Contains(online, c) {
			cpus = append(cpus, c)
		} else {
			offline = append(offline, c)
		}
	}
	if len(cpus) == 0 {
		return nil, opError(m, op, fmt.Errorf("no possible CPU is online: %w", unix.EINVAL))
	}
	if need := cpus[len(cpus)-1] + 1; int64(m.MaxEntries()) < int64(need) {
		return nil, opError(m, op, fmt.Errorf("%w: %d entries, CPU %d is online (create it with max_entries = %d, the possible CPUs): %w",
			ErrTooFewEntries, m.MaxEntries(), need-1, possible, unix.EINVAL))
	}
	raw, err := m.FD().Acquire()
	if err != nil {
		return nil, opError(m, op, err)
	}
	if err := ringproto.CheckReadWrite(raw, "perf reader", "it stores its perf event descriptors in the map"); err != nil {
		m.FD().Release()
		return nil, opError(m, op, err)
	}
	own, err := mapops.FromFD(raw)
	m.FD().Release()
	if err != nil {
		return nil, opError(m, op, err)
	}
	if err := ringproto.Claim(own.ID(), "perf Reader", "each Reader stores its own perf event descriptors in the map"); err != nil {
		own.Close()
		return nil, opError(m, op, err)
	}
	r := &Reader{cpus: cpus, offline: offline, possible: possible, m: own, mapped: true}
	if err := r.open(o); err != nil {
		r.free()
		return nil, opError(m, op, err)
	}
	return r, nil
}

// failAfter, set by tests only, makes open fail after the step named
// ("open", "mmap", "epoll", "store") for cpu, so that every undo path
// runs against the kernel.
var failAfter func(step string, cpu int) error

func injected(step string, cpu int) error {
	if failAfter == nil {
		return nil
	}
	return failAfter(step, cpu)
}

// open sets up the epoll set and each CPU's event, ring and map entry.
func (r *Reader) open(o options) error {
	poll, err := epoll.New()
	if err != nil {
		return err
	}
	r.poll = poll
	page := os.Getpagesize()
	for i, cpu := range r.cpus {
		attr := unix.PerfEventAttr{
			Type:        unix.PERF_TYPE_SOFTWARE,
			Config:      unix.PERF_COUNT_SW_BPF_OUTPUT,
			Sample_type: unix.PERF_SAMPLE_RAW,
			Sample:      1,
			Wakeup:      uint32(o.wakeup),
		}
		if o.watermark {
			attr.Bits |= unix.PerfBitWatermark
		}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			return fmt.Errorf("cpu %d: perf_event_open: %w%s", cpu, err, perfHint(err))
		}
		ev, err := sys.NewFD(fd)
		if err != nil {
			unix.Close(fd)
			return err
		}
		r.events = append(r.events, ev)
		if err := injected("open", cpu); err != nil {
			return err
		}
		mem, err := unix.Mmap(fd, 0, page+o.size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("cpu %d: map the perf ring of %d bytes: %w%s", cpu, o.size, err, perfHint(err))
		}
		r.mems = append(r.mems, mem)
		r.rings = append(r.rings, newRing(mem[:page], mem[page:], cpu))
		if err := injected("mmap", cpu); err != nil {
			return err
		}
		if err := r.poll.Add(fd, int32(i), unix.EPOLLIN); err != nil {
			return fmt.Errorf("cpu %d: %w", cpu, err)
		}
		if err := injected("epoll", cpu); err != nil {
			return err
		}
		if err := r.m.UpdateInt(uint64(cpu), uint64(fd), mapops.Any); err != nil {
			return fmt.Errorf("cpu %d: %w", cpu, err)
		}
		r.stored++
		if err := injected("store", cpu); err != nil {
			return err
		}
	}
	return nil
}

// perfHint says what an errno of perf_event_open or its mmap usually
// means.
func perfHint(err error) string {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return " (needs CAP_PERFMON or CAP_SYS_ADMIN, or a lower /proc/sys/kernel/perf_event_paranoid; mapped rings count against /proc/sys/kernel/perf_event_mlock_kb)"
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EOPNOTSUPP):
		return " (the kernel lacks PERF_COUNT_SW_BPF_OUTPUT: Linux 4.4+ with CONFIG_PERF_EVENTS)"
	}
	return ""
}

// free undoes open, as far as it went: the map entries first (the map
// holds the events open), then the rings, the events, the epoll set and
// the map handle. It returns the first error of a map entry removal.
func (r *Reader) free() error {
	var err error
	for _, cpu := range r.cpus[:r.stored] {
		if derr := r.m.DeleteInt(uint64(cpu)); derr != nil && !errors.Is(derr, sys.ErrKeyNotExist) && err == nil {
			err = derr
		}
	}
	for _, mem := range r.mems {
		unix.Munmap(mem)
	}
	r.mems = nil // r.rings stays: Lost and LostByCPU read its counters without the lock
	if r.poll != nil {
		r.poll.Close()
	}
	for _, ev := range r.events {
		ev.Close()
	}
	r.events = nil
	if r.kick != nil { // an in-memory Reader: no map
		r.kick.Close()
		return nil
	}
	ringproto.Release(r.m.ID())
	r.m.Close()
	return err
}

func opError(m *mapops.Map, op string, err error) error {
	return &sys.OpError{Object: m.String(), Op: op, Err: err}
}

// CPUs returns the CPUs the Reader has a ring for, in increasing order.
func (r *Reader) CPUs() []int { return slices.Clone(r.cpus) }

// OfflineCPUs returns the possible CPUs that were offline when NewReader
// ran, which the Reader does not read: samples a program writes on them
// are dropped by the kernel (bpf_perf_event_output fails with -ENOENT).
func (r *Reader) OfflineCPUs() []int { return slices.Clone(r.offline) }

// Lost returns how many samples the kernel reported lost in the lost
// records read so far, over all CPUs.
func (r *Reader) Lost() uint64 {
	var n uint64
	for _, rg := range r.rings {
		n += rg.lost.Load()
	}
	return n
}

// LostByCPU returns Lost per CPU: one count for each possible CPU, indexed
// by the CPU's number (0 for CPUs without a ring).
func (r *Reader) LostByCPU() []uint64 {
	out := make([]uint64, r.possible)
	for _, rg := range r.rings {
		out[rg.cpu] = rg.lost.Load()
	}
	return out
}

var errClosedRead = fmt.Errorf("perf: read: %w", os.ErrClosed)

// Read waits for the next record of any CPU and returns a copy of it. It
// fails when ctx ends (with ctx.Err()), when the deadline set by
// SetDeadline passes (with an error wrapping os.ErrDeadlineExceeded) or
// when the Reader is closed (wrapping os.ErrClosed). A record already in a
// ring is returned even if ctx has ended.
func (r *Reader) Read(ctx context.Context) (Record, error) {
	var rec Record
	err := r.ReadInto(ctx, &rec)
	return rec, err
}

// ReadInto is Read into rec, reusing the capacity of rec.RawSample, so
// that a loop over records allocates nothing. CPUs are taken in turn, one
// record each, so a busy CPU cannot starve the others; the records of one
// CPU come in the order the kernel wrote them. A corrupt ring gives an
// error wrapping ErrCorrupt, and the next call starts at the next CPU, so
// the other CPUs are still read.
func (r *Reader) ReadInto(ctx context.Context, rec *Record) error {
	_, err := r.ReadBatch(ctx, unsafe.Slice(rec, 1))
	return err
}

// ReadBatch waits, like ReadInto, until a ring holds a record, then
// copies up to len(recs) records into recs, reusing the capacity of each
// RawSample, and returns how many it copied. It takes the Reader's lock
// once per call, not once per record. Like an io.Reader, it may return
// n > 0 records together with an error (a corrupt ring after them);
// handle the records first. An empty recs returns 0, nil.
func (r *Reader) ReadBatch(ctx context.Context, recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	for {
		gen := r.poll.Gen()
		n, err := r.tryRead(recs)
		if n > 0 || err != nil {
			return n, err
		}
		if _, err := r.poll.Wait(ctx, gen, nil); err != nil {
			if errors.Is(err, os.ErrClosed) || r.life.Closed() {
				return 0, errClosedRead
			}
			return 0, fmt.Errorf("perf: read: %w", err)
		}
	}
}

// tryRead copies records into recs without waiting, taking the CPUs in
// turn, one record each, until recs is full or every ring is empty.
func (r *Reader) tryRead(recs []Record) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mapped {
		return 0, errClosedRead
	}
	n, rings := 0, len(r.rings)
	for empty := 0; n < len(recs) && empty < rings; r.turn = (r.turn + 1) % rings {
		ok, err := r.rings[r.turn].read(&recs[n])
		if err != nil {
			r.turn = (r.turn + 1) % rings // the next call reads the other CPUs first
			return n, fmt.Errorf("perf: read: %w", err)
		}
		if ok {
			n++
			empty = 0
		} else {
			empty++
		}
	}
	return n, nil
}

var errNilHandler = fmt.Errorf("perf: consume: nil handler: %w", unix.EINVAL)

// Consume hands every record in the rings to fn without waiting, taking
// the CPUs in turn, and returns how many it handed over. rec and its
// RawSample are valid only during the call: the sample is read in place
// where it lies in one piece in the ring (the kernel reuses that memory
// once fn returns) and copied only where it wraps around the end of the
// ring. fn must not modify RawSample: the kernel maps a perf ring's data
// read-only for user space, and a write there kills the process with
// SIGBUS. If fn returns an error, Consume stops and returns it wrapped;
// that record counts as consumed. fn must not call the Reader's reading
// methods or Close, which wait for the lock Consume holds.
func (r *Reader) Consume(fn func(rec *Record) error) (int, error) {
	if fn == nil {
		return 0, errNilHandler
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mapped {
		return 0, fmt.Errorf("perf: consume: %w", os.ErrClosed)
	}
	total, rings := 0, len(r.rings)
	const perTurn = 64 // records of one CPU before the next CPU's turn
	for empty := 0; empty < rings; r.turn = (r.turn + 1) % rings {
		n, err := r.rings[r.turn].consume(&r.view, &r.scratch, perTurn, fn)
		total += n
		if err != nil {
			r.turn = (r.turn + 1) % rings
			return total, fmt.Errorf("perf: consume: %w", err)
		}
		if n == 0 {
			empty++
		} else {
			empty = 0
		}
	}
	return total, nil
}

// SetDeadline sets the time after which blocked and future Read and
// ReadInto calls fail with an error wrapping os.ErrDeadlineExceeded, as
// for an os.File. The zero time means no deadline.
func (r *Reader) SetDeadline(t time.Time) error {
	if r.life.Closed() {
		return fmt.Errorf("perf: set deadline: %w", os.ErrClosed)
	}
	r.poll.SetDeadline(t)
	return nil
}

// Close wakes every blocked call, which then fails with an error wrapping
// os.ErrClosed, removes the Reader's descriptors from the map, unmaps the
// rings and closes the perf events. It returns an error when an entry
// could not be removed (one already removed by someone else is not an
// error). Close is idempotent.
func (r *Reader) Close() error {
	if first, _ := r.life.Close(); !first {
		return nil
	}
	r.poll.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mapped = false
	if err := r.free(); err != nil {
		return fmt.Errorf("perf: close: %w", err)
	}
	return nil
}

// checkRingSize checks a per-CPU ring size as perf's mmap does: a power
// of two number of pages; and at most MaxRingSize.
func checkRingSize(size int) error {
	page := os.Getpagesize()
	switch {
	case size <= 0:
		return fmt.Errorf("%w: %d bytes is not positive: %w", ErrRingSize, size, unix.EINVAL)
	case size > MaxRingSize:
		return fmt.Errorf("%w: %d bytes is above MaxRingSize (%d): %w", ErrRingSize, size, MaxRingSize, unix.EINVAL)
	case size%page != 0 || size&(size-1) != 0:
		return fmt.Errorf("%w: %d bytes is not a power of two multiple of the page size %d: %w", ErrRingSize, size, page, unix.EINVAL)
	}
	return nil
}
