package mapops

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// batchPos is the position of a series of batch reads together with their
// buffers, and the one place that issues them: Cursor and the walks of All
// and Keys both read through it.
type batchPos struct {
	in, out    []byte // position tokens: the kernel reads in and writes out
	keys, vals []byte // count entries
	count      int    // entries the buffers hold: the count the kernel is told
	started    bool
	done       bool
}

// size makes the buffers hold count entries of m, reusing them when they
// are large enough. count is clamped to 1..max(MaxEntries, 1): a batch
// never holds more entries than the map. It fails, changing nothing, when
// the buffers would not fit in memory.
func (b *batchPos) size(m *Map, count int) error {
	count = min(max(count, 1), max(int(m.maxEntries), 1))
	kn, okk := mulSize(count, m.keySize)
	vn, okv := mulSize(count, m.valueBuf)
	tok := max(m.keySize, 8)
	if !okk || !okv {
		return fmt.Errorf("%d entries of %d+%d bytes do not fit in memory", count, m.keySize, m.valueBuf)
	}
	if len(b.keys) < kn {
		b.keys = make([]byte, kn)
	}
	if len(b.vals) < vn {
		b.vals = make([]byte, vn)
	}
	if len(b.in) < tok || len(b.out) < tok {
		in, out := make([]byte, tok), make([]byte, tok)
		copy(in, b.in)
		b.in, b.out = in, out
	}
	b.count = count
	return nil
}

// mulSize returns n*size, and false when that overflows an int or either
// is negative: the size of n elements of size bytes.
func mulSize(n, size int) (int, bool) {
	if n < 0 || size < 0 || size != 0 && n > math.MaxInt/size {
		return 0, false
	}
	return n * size, true
}

// fit returns the count to tell the kernel: b.count, but never more
// entries than the buffers hold, whatever happened to them.
func (b *batchPos) fit(m *Map) uint32 {
	n := b.count
	if m.keySize > 0 {
		n = min(n, len(b.keys)/m.keySize)
	}
	if m.valueBuf > 0 {
		n = min(n, len(b.vals)/m.valueBuf)
	}
	if uint64(n) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

func (b *batchPos) key(m *Map, i int) []byte { return b.keys[i*m.keySize : (i+1)*m.keySize] }
func (b *batchPos) val(m *Map, i int) []byte { return b.vals[i*m.valueBuf : (i+1)*m.valueBuf] }

// read reads the next chunk of m (and deletes it, with del) into the
// buffers and returns how many entries it holds; after the last chunk done
// turns true. A hash bucket with more entries than the buffers hold makes
// the kernel refuse with ENOSPC: the buffers then double until it fits (a
// bucket cannot hold more than the map). Errors are the kernel's,
// unwrapped.
func (b *batchPos) read(m *Map, del bool) (int, error) {
	if b.done {
		return 0, nil
	}
	for {
		a := sys.Batch{OutBatch: ptr(b.out), Keys: ptr(b.keys), Values: ptr(b.vals), Count: b.fit(m)}
		if b.started {
			a.InBatch = ptr(b.in)
		}
		// The commands are called directly, not through a function
		// value, which would move a to the heap: one allocation per call.
		var err error
		if del {
			err = sys.MapLookupAndDeleteBatch(m.fd, &a)
		} else {
			err = sys.MapLookupBatch(m.fd, &a)
		}
		switch {
		case err == nil:
		case errno(err) == unix.ENOENT:
			b.done = true
		case errno(err) == unix.ENOSPC && a.Count == 0:
			was := b.count
			if serr := b.size(m, 2*was); serr != nil || b.count == was {
				return 0, err
			}
			continue
		default:
			return 0, err
		}
		b.started = true
		b.in, b.out = b.out, b.in
		return int(a.Count), nil
	}
}

// Cursor is the position of a series of BatchLookup or
// BatchLookupAndDelete calls, with the buffers they read into. The zero
// Cursor starts at the beginning of a map; the first call ties it to that
// map, and a call on another map fails (its position and buffers mean
// nothing there). Reset it with *c = Cursor{} to read another map.
type Cursor struct {
	m   *Map
	pos batchPos
}

// Done reports whether the last batch reached the end of the map.
func (c *Cursor) Done() bool { return c.pos.done }

// BatchLookup reads the next chunk of about n entries (more when one hash
// bucket holds more: the batch grows until the bucket fits) from the
// cursor's position and appends them to keys and values. When the map is
// exhausted c.Done() turns true; a finished cursor reads nothing more.
// It allocates nothing per entry: only the cursor's buffers, once, and
// keys and values when they lack the capacity.
//
// n is clamped to 1..MaxEntries (a map never holds more); a negative n,
// or one beyond the kernel's 32-bit count, is refused.
func (t *Typed[K, V]) BatchLookup(c *Cursor, keys []K, values []V, n int) ([]K, []V, error) {
	return t.batchRead("batch lookup", false, c, keys, values, n)
}

// BatchLookupAndDelete is BatchLookup that also removes what it read.
func (t *Typed[K, V]) BatchLookupAndDelete(c *Cursor, keys []K, values []V, n int) ([]K, []V, error) {
	return t.batchRead("batch lookup and delete", true, c, keys, values, n)
}

func (t *Typed[K, V]) batchRead(op string, del bool, c *Cursor, keys []K, values []V, n int) ([]K, []V, error) {
	if t.m.ncpu > 0 {
		return keys, values, &sys.OpError{Object: t.m.String(), Op: op, Err: errors.New("per-CPU maps are read with AllPerCPU")}
	}
	if c == nil {
		return keys, values, &sys.OpError{Object: t.m.String(), Op: op, Err: fmt.Errorf("nil cursor: %w", os.ErrInvalid)}
	}
	if n < 0 || uint64(n) > math.MaxUint32 {
		return keys, values, &sys.OpError{Object: t.m.String(), Op: op, Err: fmt.Errorf("%d entries asked: the count is 0 to %d", n, uint32(math.MaxUint32))}
	}
	if c.m != nil && c.m != t.m {
		return keys, values, &sys.OpError{Object: t.m.String(), Op: op, Err: fmt.Errorf("the cursor belongs to %s: a Cursor reads one map (use a new Cursor)", c.m)}
	}
	if c.pos.done {
		return keys, values, nil
	}
	if err := c.pos.size(t.m, n); err != nil {
		return keys, values, &sys.OpError{Object: t.m.String(), Op: op, Err: err}
	}
	c.m = t.m
	got, err := c.pos.read(t.m, del)
	if err != nil {
		return keys, values, &sys.OpError{Object: t.m.String(), Op: op, Err: err}
	}
	// Decode straight into the slices' new elements: a local K or V
	// would escape through the codec, one allocation per entry.
	nk, nv := len(keys), len(values)
	keys, values = slices.Grow(keys, got)[:nk+got], slices.Grow(values, got)[:nv+got]
	i, err := decodeAll(&t.k, t.kc, c.pos.keys, t.m.keySize, keys[nk:])
	if err != nil {
		return keys[:nk+i], values[:nv+i], t.fail("decode key", err)
	}
	i, err = decodeAll(&t.v, t.vc, c.pos.vals, t.m.valueBuf, values[nv:])
	return keys[:nk+i], values[:nv+i], t.fail("decode value", err)
}

// decodeAll decodes the C values packed stride bytes apart in b into dst,
// and returns how many it decoded before an error. Where the Go memory of
// a T is its C bytes, packed the same way, that is one copy for all.
func decodeAll[T any](f *form, c *structcodec.Codec[T], b []byte, stride int, dst []T) (int, error) {
	if f.overlay && len(f.Bools) == 0 && int(unsafe.Sizeof(*new(T))) == stride && f.Size == stride {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)*stride), b)
		return len(dst), nil
	}
	for i := range dst {
		if err := decode(f, c, b[i*stride:(i+1)*stride], &dst[i]); err != nil {
			return i, err
		}
	}
	return len(dst), nil
}

// BatchUpdate stores values[i] under keys[i] for every i in one system
// call and returns how many were stored; on error the first that many
// were. The kernel takes only Any or Lock for batches: NoExist and Exist
// are refused (update key by key for those).
func (t *Typed[K, V]) BatchUpdate(keys []K, values []V, flags Flags) (int, error) {
	if len(keys) != len(values) {
		return 0, &sys.OpError{Object: t.m.String(), Op: "batch update", Err: fmt.Errorf("%d keys but %d values", len(keys), len(values))}
	}
	if flags&^Lock != 0 {
		return 0, &sys.OpError{Object: t.m.String(), Op: "batch update", Err: fmt.Errorf("flags %#x: the kernel takes only Any or Lock for batches", uint64(flags))}
	}
	if t.m.ncpu > 0 {
		return 0, &sys.OpError{Object: t.m.String(), Op: "batch update", Err: errors.New("per-CPU maps are updated with UpdatePerCPU")}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	kb, err := t.encodeKeys("batch update", keys)
	if err != nil {
		return 0, err
	}
	vn, ok := mulSize(len(values), t.v.Size)
	if !ok {
		return 0, &sys.OpError{Object: t.m.String(), Op: "batch update", Err: fmt.Errorf("%d values of %d bytes do not fit in memory", len(values), t.v.Size)}
	}
	vb := make([]byte, vn)
	for i := range values {
		if err := t.encodeValue(vb[i*t.v.Size:], &values[i]); err != nil {
			return 0, err
		}
	}
	b := sys.Batch{Keys: ptr(kb), Values: ptr(vb), Count: uint32(len(keys)), ElemFlags: uint64(flags)}
	if err := sys.MapUpdateBatch(t.m.fd, &b); err != nil {
		return int(b.Count), &sys.OpError{Object: t.m.String(), Op: "batch update", Err: cmp.Or(condOf(opUpdate, err), err)}
	}
	return int(b.Count), nil
}

// BatchDelete removes keys in one system call and returns how many it
// removed; a missing key stops it with an error wrapping unix.ENOENT.
func (t *Typed[K, V]) BatchDelete(keys []K) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	kb, err := t.encodeKeys("batch delete", keys)
	if err != nil {
		return 0, err
	}
	b := sys.Batch{Keys: ptr(kb), Count: uint32(len(keys))}
	if err := sys.MapDeleteBatch(t.m.fd, &b); err != nil {
		return int(b.Count), &sys.OpError{Object: t.m.String(), Op: "batch delete", Err: cmp.Or(condOf(opDelete, err), err)}
	}
	return int(b.Count), nil
}

// encodeKeys encodes keys back to back for a batch command, which the
// kernel counts in 32 bits: more keys than that are refused.
func (t *Typed[K, V]) encodeKeys(op string, keys []K) ([]byte, error) {
	n, ok := mulSize(len(keys), t.k.Size)
	if !ok || uint64(len(keys)) > math.MaxUint32 {
		return nil, &sys.OpError{Object: t.m.String(), Op: op, Err: fmt.Errorf("%d keys: a batch holds at most %d", len(keys), uint32(math.MaxUint32))}
	}
	kb := make([]byte, n)
	for i := range keys {
		if err := t.encodeKey(kb[i*t.k.Size:], &keys[i]); err != nil {
			return nil, err
		}
	}
	return kb, nil
}
