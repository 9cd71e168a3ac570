package mapops

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// NextKey returns the key that follows *key in the map's order, or the
// first key when key is nil: one step of a walk, as clj-ebpf's
// map-get-next-key-struct, where All and Keys are the whole walk. ok is
// false, with a nil error, after the last key.
//
// The order is the kernel's. A key that is not in the map (deleted since
// the previous step, say) makes a hash map answer with its first key, so
// a walk by NextKey under concurrent deletes can start over; All and Keys
// detect that.
func (t *Typed[K, V]) NextKey(key *K) (next K, ok bool, err error) {
	s := t.get()
	defer t.put(s)
	var kp unsafe.Pointer
	var kb [keyStack]byte
	if key != nil {
		if kp, err = t.keyBytes(s, key, &kb); err != nil {
			return next, false, err
		}
	}
	var stack [keyStack]byte
	out := stack[:]
	if t.m.keySize > keyStack {
		out = make([]byte, t.m.keySize)
	}
	out = out[:t.m.keySize]
	if err := sys.MapGetNextKey(t.m.fd, kp, ptr(out)); err != nil {
		if errno(err) == unix.ENOENT {
			return next, false, nil
		}
		return next, false, &sys.OpError{Object: t.m.String(), Op: "next key", Err: err}
	}
	if err := t.decodeKey(out, &s.k); err != nil {
		return next, false, err
	}
	return s.k, true, nil
}
