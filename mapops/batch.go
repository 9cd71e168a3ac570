package mapops

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// Cursor is the position of a series of BatchLookup or
// BatchLookupAndDelete calls. The zero Cursor starts at the beginning of
// the map.
type Cursor struct {
	in, out []byte
	started bool
	done    bool
}

// Done reports whether the last batch reached the end of the map.
func (c *Cursor) Done() bool { return c.done }

// BatchLookup reads the next chunk of about n entries (more when one hash
// bucket holds more: the batch grows until the bucket fits) from the
// cursor's position and appends them to keys and values. When the map is
// exhausted c.Done() turns true; a finished cursor reads nothing more.
func (t *Typed[K, V]) BatchLookup(c *Cursor, keys []K, values []V, n int) ([]K, []V, error) {
	return t.batchRead("batch lookup", sys.MapLookupBatch, c, keys, values, n)
}

// BatchLookupAndDelete is BatchLookup that also removes what it read.
func (t *Typed[K, V]) BatchLookupAndDelete(c *Cursor, keys []K, values []V, n int) ([]K, []V, error) {
	return t.batchRead("batch lookup and delete", sys.MapLookupAndDeleteBatch, c, keys, values, n)
}

func (t *Typed[K, V]) batchRead(op string, cmd func(*sys.FD, *sys.Batch) error, c *Cursor, keys []K, values []V, n int) ([]K, []V, error) {
	if t.m.ncpu > 0 {
		return keys, values, fmt.Errorf("%s: %s: per-CPU maps are read with AllPerCPU", t.m, op)
	}
	if c.done {
		return keys, values, nil
	}
	n = max(n, 1)
	if c.in == nil {
		tok := max(t.m.keySize, 8)
		c.in, c.out = make([]byte, tok), make([]byte, tok)
	}
	for {
		kb := make([]byte, n*t.kSize)
		vb := make([]byte, n*t.m.valueBuf)
		b := sys.Batch{OutBatch: ptr(c.out), Keys: ptr(kb), Values: ptr(vb), Count: uint32(n)}
		if c.started {
			b.InBatch = ptr(c.in)
		}
		err := cmd(t.m.fd, &b)
		switch {
		case err == nil:
		case errno(err) == unix.ENOENT:
			c.done = true
		case errno(err) == unix.ENOSPC && b.Count == 0:
			n *= 2
			continue
		default:
			return keys, values, fmt.Errorf("%s: %s: %w", t.m, op, err)
		}
		c.started = true
		c.in, c.out = c.out, c.in
		for i := range int(b.Count) {
			var k K
			var v V
			if err := t.decodeKey(kb[i*t.kSize:], &k); err != nil {
				return keys, values, err
			}
			if err := t.decodeValue(vb[i*t.m.valueBuf:], &v); err != nil {
				return keys, values, err
			}
			keys, values = append(keys, k), append(values, v)
		}
		return keys, values, nil
	}
}

// BatchUpdate stores values[i] under keys[i] for every i in one system
// call and returns how many were stored; on error the first that many
// were. The kernel takes only Any or Lock for batches: NoExist and Exist
// are refused (update key by key for those).
func (t *Typed[K, V]) BatchUpdate(keys []K, values []V, flags Flags) (int, error) {
	if len(keys) != len(values) {
		return 0, fmt.Errorf("%s: batch update: %d keys but %d values", t.m, len(keys), len(values))
	}
	if flags&^Lock != 0 {
		return 0, fmt.Errorf("%s: batch update: flags %#x: the kernel takes only Any or Lock for batches", t.m, uint64(flags))
	}
	if t.m.ncpu > 0 {
		return 0, fmt.Errorf("%s: batch update: per-CPU maps are updated with UpdatePerCPU", t.m)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	kb, err := t.encodeKeys(keys)
	if err != nil {
		return 0, err
	}
	vb := make([]byte, len(values)*t.vSize)
	for i := range values {
		if err := t.encodeValue(vb[i*t.vSize:], &values[i]); err != nil {
			return 0, err
		}
	}
	b := sys.Batch{Keys: ptr(kb), Values: ptr(vb), Count: uint32(len(keys)), ElemFlags: uint64(flags)}
	if err := sys.MapUpdateBatch(t.m.fd, &b); err != nil {
		return int(b.Count), fmt.Errorf("%s: batch update: %w", t.m, updateErr(err))
	}
	return int(b.Count), nil
}

// BatchDelete removes keys in one system call and returns how many it
// removed; a missing key stops it with an error wrapping unix.ENOENT.
func (t *Typed[K, V]) BatchDelete(keys []K) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	kb, err := t.encodeKeys(keys)
	if err != nil {
		return 0, err
	}
	b := sys.Batch{Keys: ptr(kb), Count: uint32(len(keys))}
	if err := sys.MapDeleteBatch(t.m.fd, &b); err != nil {
		return int(b.Count), fmt.Errorf("%s: batch delete: %w", t.m, deleteErr(err))
	}
	return int(b.Count), nil
}

func (t *Typed[K, V]) encodeKeys(keys []K) ([]byte, error) {
	kb := make([]byte, len(keys)*t.kSize)
	for i := range keys {
		if err := t.encodeKey(kb[i*t.kSize:], &keys[i]); err != nil {
			return nil, err
		}
	}
	return kb, nil
}
