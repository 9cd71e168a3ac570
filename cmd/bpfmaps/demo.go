package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/refs"
	"github.com/bpfmaps/bpfmaps/sys"
	"github.com/bpfmaps/bpfmaps/userringbuf"
)

// runDemo runs the demo. Its programs are internal/progs', the ones the
// tests run: the tool is that package's one importer outside tests (see
// its documentation), so the demo shows what the tests prove.
func runDemo(args []string, stdout io.Writer) error {
	fs := newFlags("demo", "", `Show the library at work on this machine: create maps and small
hand-assembled programs, run them in the kernel with BPF_PROG_TEST_RUN, and
print what Go sees live:
  counter   a hash map bumped by a program, watched by a Go reference
  ringbuf   kernel events tailed from a ring buffer
  userring  samples pushed by Go through a user ring buffer, drained by a program (6.1+)
  queue     timestamps pushed by a program, popped in order by Go
  per-CPU   a per-CPU array bumped on every CPU, read as one value per CPU
Everything it creates is removed when it ends (also on Ctrl-C). Needs root
or CAP_BPF.`, stdout)
	duration := durationVar(fs, "duration", 10*time.Second, "how long to run, a `duration`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"demo takes no arguments"}
	}
	if *duration <= 0 {
		return usageError{"--duration must be positive"}
	}
	if err := sys.HaveMapType(unix.BPF_MAP_TYPE_ARRAY); err != nil {
		return fmt.Errorf("cannot create BPF maps: this needs root or CAP_BPF (%v)", err)
	}
	ctx, cancel := signalContext(0)
	defer cancel()
	d := &demo{out: stdout, start: time.Now()}
	err := d.run(ctx, *duration)
	if cerr := d.cleanup(); err == nil {
		err = cerr
	}
	return err
}

// demo holds what the demo created, so that all of it goes away at the end.
type demo struct {
	out     io.Writer
	start   time.Time
	closers []func() error
	mapIDs  []uint32
}

// part is one thing the demo shows: a line per round and a summary.
type part struct {
	name    string
	round   func(ctx context.Context) (string, error)
	summary func() string
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) run(ctx context.Context, duration time.Duration) error {
	var uname unix.Utsname
	unix.Uname(&uname)
	cpus, err := sys.PossibleCPUs()
	if err != nil {
		return err
	}
	d.printf("bpfmaps demo: BPF maps from Go with nothing but bpf(2)\nkernel %s, %d possible CPUs, running for %v\n\n",
		unix.ByteSliceToString(uname.Release[:]), cpus, duration)

	var parts []part
	for _, setup := range []func() (part, error){d.counter, d.ringbuf, d.userRing, d.queue, d.perCPU} {
		p, err := setup()
		if err != nil {
			return err
		}
		if p.round != nil {
			parts = append(parts, p)
		}
	}
	d.printf("\n")

	round := min(max(duration/5, 200*time.Millisecond), 2*time.Second)
	tick := time.NewTicker(round)
	defer tick.Stop()
	for range max(int(duration/round), 1) {
		select {
		case <-ctx.Done():
			d.printf("interrupted\n")
			return nil
		case <-tick.C:
		}
		elapsed := time.Since(d.start).Round(100 * time.Millisecond)
		for _, p := range parts {
			line, err := p.round(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			d.printf("[%5s] %-8s %s\n", elapsed, p.name, line)
		}
	}
	d.printf("\nsummary\n")
	for _, p := range parts {
		d.printf("  %-8s %s\n", p.name, p.summary())
	}
	return nil
}

// cleanup closes everything in reverse order and checks that none of the
// demo's maps is left on the system.
func (d *demo) cleanup() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	// The kernel frees a map shortly after its last reference goes.
	var left []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left = left[:0]
		for _, id := range d.mapIDs {
			fd, err := sys.MapGetFDByID(id, 0)
			if err == nil {
				fd.Close()
				left = append(left, fmt.Sprint(id))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("demo maps still present after cleanup: ids %s", strings.Join(left, ", ")))
	} else if len(d.mapIDs) > 0 {
		d.printf("\ncleanup: closed %d maps and their programs; none is left on the system\n", len(d.mapIDs))
	}
	return errors.Join(errs...)
}

// createMap creates a map that cleanup removes, and reports it.
func (d *demo) createMap(spec mapops.Spec, what string) (*mapops.Map, error) {
	m, err := mapops.Create(spec)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, m.Close)
	d.mapIDs = append(d.mapIDs, m.ID())
	d.printf("created  %-13s %-13s %-33s id %d\n", spec.Name, spec.Type.String(), what, m.ID())
	return m, nil
}

// closeLater closes c when the demo ends.
func (d *demo) closeLater(c io.Closer) { d.closers = append(d.closers, c.Close) }

// loadProg keeps a loaded program until cleanup.
func (d *demo) loadProg(fd *sys.FD, err error) (*sys.FD, error) {
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, fd.Close)
	return fd, nil
}

// counter: a program bumps demo_counts[1]; a ChangeWatcher in Go wakes
// with each new value.
func (d *demo) counter() (part, error) {
	m, err := d.createMap(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16, Name: "demo_counts"},
		"u32 -> u64, 16 entries")
	if err != nil {
		return part{}, err
	}
	prog, err := d.loadProg(progs.Counter(m.FD(), 1))
	if err != nil {
		return part{}, err
	}
	w, err := refs.NewChangeWatcher[uint32, uint64](m, 1)
	if err != nil {
		return part{}, err
	}
	d.closeLater(w)
	d.printf("         program counter bumps demo_counts[1]; Go: refs.ChangeWatcher[uint32, uint64]\n")
	const runs = 1000
	var last uint64
	return part{
		name: "counter",
		round: func(ctx context.Context) (string, error) {
			if _, err := runTimes(prog, runs); err != nil {
				return "", err
			}
			v, ok, err := w.WaitTimeout(2 * time.Second)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("the watcher saw no change of demo_counts[1] within 2s")
			}
			before := last
			last = v
			return fmt.Sprintf("program ran %d×: watcher woke with demo_counts[1] %d -> %d", runs, before, v), nil
		},
		summary: func() string { return fmt.Sprintf("demo_counts[1] = %d, every bump made in the kernel", last) },
	}, nil
}

// event is the record progs.EmitEvent writes: struct { u64 time_ns; u32
// cpu; u32 len; }.
type event struct {
	TimeNS uint64
	CPU    uint32
	Len    uint32
}

// ringbuf: a program writes events into a ring buffer; a RingBufRef
// decodes them into Go structs as they arrive.
func (d *demo) ringbuf() (part, error) {
	if err := sys.HaveRingBuf(); err != nil {
		d.printf("skipped  ringbuf: %v (ring buffers need Linux 5.8)\n", err)
		return part{}, nil
	}
	ring, err := d.createMap(mapops.Spec{Type: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: 64 << 10, Name: "demo_events"},
		"64 KiB of kernel events")
	if err != nil {
		return part{}, err
	}
	prog, err := d.loadProg(progs.EmitEvent(ring.FD()))
	if err != nil {
		return part{}, err
	}
	r, err := refs.NewRingBufRef[event](ring)
	if err != nil {
		return part{}, err
	}
	d.closeLater(r)
	d.printf("         program emit_event writes demo_events; Go: refs.RingBufRef[event] (epoll)\n")
	const events = 3
	var read int
	return part{
		name: "ringbuf",
		round: func(ctx context.Context) (string, error) {
			if _, err := runTimes(prog, events); err != nil {
				return "", err
			}
			var cells []string
			var t0 uint64
			for i := range events {
				e, ok, err := r.ReadTimeout(2 * time.Second)
				if err != nil {
					return "", err
				}
				if !ok {
					return "", fmt.Errorf("event %d of %d did not arrive within 2s", i+1, events)
				}
				if i == 0 {
					t0 = e.TimeNS
					cells = append(cells, fmt.Sprintf("{t0 cpu%d len=%d}", e.CPU, e.Len))
				} else {
					cells = append(cells, fmt.Sprintf("{+%v cpu%d len=%d}", time.Duration(e.TimeNS-t0), e.CPU, e.Len))
				}
			}
			read += events
			return fmt.Sprintf("program emitted %d events, Go read %s", events, strings.Join(cells, " ")), nil
		},
		summary: func() string { return fmt.Sprintf("%d events read from demo_events as the kernel wrote them", read) },
	}, nil
}

// userRing: Go pushes samples through a user ring buffer; a program drains
// them and adds them up where Go reads the total back.
func (d *demo) userRing() (part, error) {
	if err := sys.HaveUserRingBuf(); err != nil {
		d.printf("skipped  userring: %v (user ring buffers need Linux 6.1)\n", err)
		return part{}, nil
	}
	if err := progs.HaveUserRingBufDrain(); errors.Is(err, sys.ErrNotSupported) {
		d.printf("skipped  userring: %v\n", err)
		return part{}, nil
	}
	ring, err := d.createMap(mapops.Spec{Type: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: 64 << 10, Name: "demo_samples"},
		"64 KiB of samples for the kernel")
	if err != nil {
		return part{}, err
	}
	drain, err := progs.NewUserRingBufDrain(ring.FD(), 0)
	if err != nil {
		return part{}, err
	}
	d.closers = append(d.closers, drain.Close)
	w, err := userringbuf.NewProducer(ring)
	if err != nil {
		return part{}, fmt.Errorf("write demo_samples: %w", err)
	}
	d.closers = append(d.closers, w.Close)
	d.printf("         Go: userringbuf.Producer writes demo_samples; program drains them (bpf_user_ringbuf_drain)\n")
	const samples = 8
	var next, sentSum uint64
	var got progs.DrainResult
	return part{
		name: "userring",
		round: func(ctx context.Context) (string, error) {
			first := next + 1
			for range samples {
				next++
				// The drain program's sample: its length in the first 4
				// bytes, a value in the last 8 that the program adds up,
				// in host byte order as the program reads them.
				var b [16]byte
				binary.NativeEndian.PutUint32(b[:], uint32(len(b)))
				binary.NativeEndian.PutUint64(b[8:], next)
				if err := w.Write(b[:]); err != nil {
					return "", err
				}
				sentSum += next
			}
			if got, err = drain.Run(); err != nil {
				return "", err
			}
			return fmt.Sprintf("Go pushed samples %d..%d, the kernel drained them: %d samples so far, sum %d", first, next, got.Samples, got.TailSum), nil
		},
		summary: func() string {
			return fmt.Sprintf("%d of %d samples reached the kernel, sum %d (Go sent %d)", got.Samples, next, got.TailSum, sentSum)
		},
	}, nil
}

// queue: a program pushes kernel timestamps; a QueueRef pops them in FIFO
// order.
func (d *demo) queue() (part, error) {
	q, err := d.createMap(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 64, Name: "demo_queue"},
		"u64, 64 entries")
	if err != nil {
		return part{}, err
	}
	prog, err := d.loadProg(progs.PushTime(q.FD()))
	if err != nil {
		return part{}, err
	}
	ref, err := refs.NewQueueRef[uint64](q)
	if err != nil {
		return part{}, err
	}
	d.closeLater(ref)
	d.printf("         program push_time pushes demo_queue; Go: refs.QueueRef[uint64]\n")
	const pushes = 4
	var popped int
	return part{
		name: "queue",
		round: func(ctx context.Context) (string, error) {
			for range pushes {
				if _, err := progs.Run(prog, 1); err != nil {
					return "", err
				}
			}
			var stamps []uint64
			for range pushes {
				v, ok, err := ref.PopTimeout(2 * time.Second)
				if err != nil {
					return "", err
				}
				if !ok {
					return "", fmt.Errorf("demo_queue: nothing to pop within 2s")
				}
				stamps = append(stamps, v)
			}
			popped += len(stamps)
			return fmt.Sprintf("program pushed %d timestamps, Go popped %s", pushes, deltas(stamps)), nil
		},
		summary: func() string { return fmt.Sprintf("%d kernel timestamps popped, oldest first", popped) },
	}, nil
}

// deltas prints kernel timestamps relative to the first: "t0, +1.2µs, …",
// and says whether they came out in order.
func deltas(stamps []uint64) string {
	if len(stamps) == 0 {
		return "nothing"
	}
	parts := []string{"t0"}
	ordered := true
	for i := 1; i < len(stamps); i++ {
		parts = append(parts, "+"+time.Duration(stamps[i]-stamps[0]).String())
		ordered = ordered && stamps[i] >= stamps[i-1]
	}
	order := "in FIFO order"
	if !ordered {
		order = "OUT OF ORDER"
	}
	return strings.Join(parts, " ") + " (" + order + ")"
}

// perCPU: the counter program runs pinned to each CPU in turn; Go reads one
// value per CPU.
func (d *demo) perCPU() (part, error) {
	cpus, err := sys.PossibleCPUs()
	if err != nil {
		return part{}, err
	}
	m, err := d.createMap(mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "demo_percpu"},
		fmt.Sprintf("u32 -> u64 on each of %d CPUs", cpus))
	if err != nil {
		return part{}, err
	}
	prog, err := d.loadProg(progs.Counter(m.FD(), 0))
	if err != nil {
		return part{}, err
	}
	typed, err := mapops.NewTyped[uint32, uint64](m)
	if err != nil {
		return part{}, err
	}
	d.printf("         program counter runs on each CPU; Go: mapops.Typed[uint32, uint64].LookupPerCPU\n")
	last := make([]uint64, cpus)
	return part{
		name: "per-CPU",
		round: func(ctx context.Context) (string, error) {
			if err := runOnEveryCPU(prog, cpus); err != nil {
				return "", err
			}
			if err := typed.LookupPerCPU(0, last); err != nil {
				return "", err
			}
			var cells []string
			for cpu, v := range last {
				cells = append(cells, fmt.Sprintf("cpu%d=%d", cpu, v))
			}
			return "demo_percpu[0]: " + strings.Join(cells, " "), nil
		},
		summary: func() string {
			var sum uint64
			for _, v := range last {
				sum += v
			}
			return fmt.Sprintf("%d bumps over %d CPUs, each CPU counting in its own slot", sum, len(last))
		},
	}, nil
}

// runOnEveryCPU runs prog once on each online CPU, by pinning the calling
// thread to one CPU at a time.
func runOnEveryCPU(prog *sys.FD, cpus int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		return err
	}
	defer unix.SchedSetaffinity(0, &orig)
	for cpu := range cpus {
		if !orig.IsSet(cpu) {
			continue
		}
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			continue // offline
		}
		if _, err := runTimes(prog, cpu+1); err != nil {
			return err
		}
	}
	return nil
}

// runTimes runs prog n times, one test run each: a test run repeated by the
// kernel stops early with EINTR when a signal (the Go runtime's preemption)
// arrives, having run an unknown number of times.
func runTimes(prog *sys.FD, n int) (uint32, error) {
	var ret uint32
	for range n {
		r, err := progs.Run(prog, 1)
		if err != nil {
			return 0, err
		}
		ret = r
	}
	return ret, nil
}
