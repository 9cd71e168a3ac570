package mapops

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// Iteration
//
// All and Keys return two things: the sequence to range over and a
// function that reports why it ended early. Ranging never stops silently
// on an error: the sequence ends, and the function returns the error (nil
// after a complete walk, or when the loop body broke out):
//
//	all, errf := counts.All()
//	for k, v := range all { … }
//	if err := errf(); err != nil { … }
//
// That is the library's one convention for sequences that can fail (refs'
// Seq methods follow it too): a walk needs both places of iter.Seq2 for
// the key and the value, so the error cannot ride along as a second
// value, and the loop body deals with entries only, the error being
// checked once after the loop, as with bufio.Scanner's Err.
//
// How the map is walked, and what is guaranteed when other goroutines or
// BPF programs change it meanwhile:
//
//   - Hash, LRU hash, their per-CPU kinds and arrays are read with
//     BPF_MAP_LOOKUP_BATCH when the kernel has it (Linux 5.6+). The kernel
//     keeps the position as a bucket index, not a key, so deleting keys
//     cannot make the walk start over. A key is yielded at most once (a key
//     always hashes to the same bucket and each bucket is read whole), every
//     key present for the whole walk is yielded, and keys inserted or
//     deleted during the walk may or may not be.
//   - Other map types (LPM tries, maps of maps, …), and kernels without
//     batch commands, are walked with BPF_MAP_GET_NEXT_KEY plus a lookup per
//     key. When the current key has been deleted the kernel answers with the
//     map's first key: the walk detects that (the key was already yielded),
//     skips every key it has yielded before and goes on, so the guarantees
//     above hold here too. Keys deleted between their get_next_key and their
//     lookup are skipped. After maxRestarts such restarts the walk gives up
//     with an error wrapping ErrIterationRestarted rather than run forever
//     under a writer that deletes faster than it can be walked.

// ErrIterationRestarted is wrapped by the error of a get_next_key walk that
// the kernel sent back to the first key too often (see All).
var ErrIterationRestarted = errors.New("map iteration restarted too often under concurrent deletes")

// maxRestarts bounds the restarts of a get_next_key walk.
const maxRestarts = 100

// batchBytes is the buffer size a batch walk aims for.
const batchBytes = 256 << 10

// walker reads a map chunk by chunk into the buffers of its batchPos,
// with batch reads or get_next_key.
type walker struct {
	batchPos
	m        *Map
	batch    bool
	values   bool
	cur      []byte // get_next_key position
	haveCur  bool
	seen     map[string]struct{}
	restarts int
	first    []byte // scratch for the map's first key
}

// batchable reports whether BPF_MAP_LOOKUP_BATCH walks maps of type t
// with a position that survives deletes.
func batchable(t sys.MapType) bool {
	f, _ := t.Facts()
	return f.Ops&sys.OpBatch != 0 && sys.HaveBatchOps() == nil
}

// forceNextKey makes walks use get_next_key, and restarts counts the
// restarts they detected; for tests.
var (
	forceNextKey bool
	restarts     atomic.Int64
)

func (m *Map) walk(values bool) (*walker, error) {
	w := &walker{m: m, values: values, batch: batchable(m.typ) && !forceNextKey}
	entry := max(m.keySize+m.valueBuf, 1)
	count := min(max(batchBytes/entry, 64), max(int(m.maxEntries), 1))
	if !w.batch {
		count = min(count, 64)
	}
	if err := w.size(m, count); err != nil {
		return nil, &sys.OpError{Object: m.String(), Op: "iterate", Err: err}
	}
	w.cur = make([]byte, m.keySize)
	if !isArray(m.typ) {
		w.seen = map[string]struct{}{}
	}
	return w, nil
}

func (w *walker) key(i int) []byte { return w.batchPos.key(w.m, i) }
func (w *walker) val(i int) []byte { return w.batchPos.val(w.m, i) }

// fill reads the next chunk and returns how many entries it holds; 0 with
// a nil error means the walk is over.
func (w *walker) fill() (int, error) {
	if w.done {
		return 0, nil
	}
	if !w.batch {
		return w.fillNext()
	}
	n, err := w.read(w.m, false)
	switch {
	case err != nil && !w.started && unsupported(err):
		w.batch = false
		return w.fillNext()
	case err != nil:
		return 0, &sys.OpError{Object: w.m.String(), Op: "iterate", Err: err}
	}
	return n, nil
}

func unsupported(err error) bool {
	switch errno(err) {
	case unix.EINVAL, unix.EOPNOTSUPP, sys.ENOTSUPP:
		return true
	}
	return false
}

func (w *walker) fillNext() (int, error) {
	fd := w.m.fd
	n := 0
	for n < w.count {
		key := w.key(n)
		var prev []byte
		if w.haveCur {
			prev = w.cur
		}
		err := sys.MapGetNextKey(fd, ptr(prev), ptr(key))
		if errno(err) == unix.ENOENT {
			w.done = true
			break
		}
		if err != nil {
			return n, &sys.OpError{Object: w.m.String(), Op: "iterate", Err: err}
		}
		copy(w.cur, key)
		w.haveCur = true
		if w.seen != nil {
			if _, dup := w.seen[string(key)]; dup {
				// A key yielded before: either the walk is passing keys it
				// yielded before a restart, or the kernel has just sent it
				// back to the first key because the current one was deleted.
				restarted, err := w.isFirst(key)
				if err != nil {
					return n, err
				}
				if restarted {
					restarts.Add(1)
					if w.restarts++; w.restarts > maxRestarts {
						return n, &sys.OpError{Object: w.m.String(), Op: "iterate", Err: fmt.Errorf("%w (%d restarts)", ErrIterationRestarted, w.restarts-1)}
					}
				}
				continue
			}
			w.seen[string(key)] = struct{}{}
		}
		if w.values {
			err := sys.MapLookupElem(fd, ptr(key), ptr(w.val(n)), 0)
			if errno(err) == unix.ENOENT {
				continue // deleted since get_next_key returned it
			}
			if err != nil {
				return n, &sys.OpError{Object: w.m.String(), Op: "iterate", Err: err}
			}
		}
		n++
	}
	return n, nil
}

// isFirst reports whether key is the map's first key.
func (w *walker) isFirst(key []byte) (bool, error) {
	if w.first == nil {
		w.first = make([]byte, len(key))
	}
	err := sys.MapGetNextKey(w.m.fd, nil, ptr(w.first))
	if errno(err) == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, &sys.OpError{Object: w.m.String(), Op: "iterate", Err: err}
	}
	return bytes.Equal(key, w.first), nil
}

// All returns the map's entries as byte slices that are only valid until
// the next step of the loop, and a function that reports the error that
// ended the walk early (see the Iteration notes above). Values of per-CPU
// maps hold one slot per possible CPU.
func (m *Map) All() (iter.Seq2[[]byte, []byte], func() error) {
	var err error
	seq := func(yield func([]byte, []byte) bool) {
		err = m.each(true, func(w *walker, i int) bool { return yield(w.key(i), w.val(i)) })
	}
	return seq, func() error { return err }
}

// Keys is All without the values.
func (m *Map) Keys() (iter.Seq[[]byte], func() error) {
	var err error
	seq := func(yield func([]byte) bool) {
		err = m.each(false, func(w *walker, i int) bool { return yield(w.key(i)) })
	}
	return seq, func() error { return err }
}

// each walks the map, calling f for each entry until it returns false.
func (m *Map) each(values bool, f func(w *walker, i int) bool) error {
	if m == nil {
		return nilMap("iterate")
	}
	w, err := m.walk(values)
	if err != nil {
		return err
	}
	for {
		n, err := w.fill()
		for i := range n {
			if !f(w, i) {
				return nil
			}
		}
		if err != nil || n == 0 && w.done {
			return err
		}
	}
}

// All returns the map's entries and a function that reports the error
// that ended the walk early (nil after a complete walk); see the Iteration
// notes of Map.All for what concurrent changes can do. Per-CPU maps are
// walked with AllPerCPU.
func (t *Typed[K, V]) All() (iter.Seq2[K, V], func() error) {
	var err error
	seq := func(yield func(K, V) bool) {
		if t.m.ncpu > 0 {
			err = t.perCPUErr("All")
			return
		}
		var k K
		var v V
		var derr error
		err = t.m.each(true, func(w *walker, i int) bool {
			if derr = t.decodeKey(w.key(i), &k); derr != nil {
				return false
			}
			if derr = t.decodeValue(w.val(i), &v); derr != nil {
				return false
			}
			return yield(k, v)
		})
		err = cmp.Or(err, derr)
	}
	return seq, func() error { return err }
}

// AllPerCPU is All for per-CPU maps: each value is one V per possible CPU,
// in a slice that is reused by the next step of the loop.
func (t *Typed[K, V]) AllPerCPU() (iter.Seq2[K, []V], func() error) {
	var err error
	seq := func(yield func(K, []V) bool) {
		if t.m.ncpu == 0 {
			err = &sys.OpError{Object: t.m.String(), Op: "AllPerCPU", Err: errors.New("not a per-CPU map")}
			return
		}
		var k K
		var derr error
		vs := make([]V, t.m.ncpu)
		err = t.m.each(true, func(w *walker, i int) bool {
			if derr = t.decodeKey(w.key(i), &k); derr != nil {
				return false
			}
			if derr = t.decodePerCPU(w.val(i), vs); derr != nil {
				return false
			}
			return yield(k, vs)
		})
		err = cmp.Or(err, derr)
	}
	return seq, func() error { return err }
}

// Keys returns the map's keys; see All.
func (t *Typed[K, V]) Keys() (iter.Seq[K], func() error) {
	var err error
	seq := func(yield func(K) bool) {
		var k K
		var derr error
		err = t.m.each(false, func(w *walker, i int) bool {
			if derr = t.decodeKey(w.key(i), &k); derr != nil {
				return false
			}
			return yield(k)
		})
		err = cmp.Or(err, derr)
	}
	return seq, func() error { return err }
}
