package mapops

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Typed is a Map whose keys are K and values V, converted to the kernel's
// bytes by structcodec. Where the Go memory of K or V already is its C
// layout (fixed-size integers, floats, arrays of them, and structs of those
// without padding or tags that change bytes), they go to the kernel
// without any copy. Lookups also write straight into values that differ
// from their C layout only in padding and bools, and keys that differ only
// in padding and big-endian fields are built on the stack (see form).
//
// A Typed is safe for concurrent use. It does not own the Map.
type Typed[K, V any] struct {
	m      *Map
	kc     *structcodec.Codec[K]
	vc     *structcodec.Codec[V]
	k, v   form
	stride int // per-CPU slot size

	// Scratch buffers: own serves one call at a time (an uncontended
	// compare-and-swap is cheaper than a sync.Pool round trip); concurrent
	// calls take theirs from pool.
	own  *scratch[K, V]
	busy atomic.Bool
	pool sync.Pool
}

// scratch holds the encoding buffers and value copies of one call.
type scratch[K, V any] struct {
	k   K
	v   V
	key []byte
	val []byte // ValueBufferSize bytes
}

// NewTyped returns a typed view of m, a map with keys: queues and stacks
// are viewed with NewQueue. It checks once that the C sizes of K and V are
// the map's key and value sizes and, when the map has BTF, that their
// layouts match its key and value types field by field (see btf.Check).
// Options check against another BTF (CheckBTF), or not at all
// (SkipBTFCheck). The map's BTF can only be read with CAP_SYS_ADMIN;
// without it NewTyped fails unless given CheckBTF or AllowUnreadableBTF.
func NewTyped[K, V any](m *Map, opts ...TypedOption) (*Typed[K, V], error) {
	if m == nil {
		return nil, nilMap("typed view")
	}
	if f, _ := m.typ.Facts(); f.Ops&sys.OpPop != 0 {
		return nil, &sys.OpError{Object: m.String(), Op: "typed view", Err: fmt.Errorf("a %s has no keys: use NewQueue", m.typ)}
	}
	kc, err := codecFor[K](m, "key", m.keySize)
	if err != nil {
		return nil, err
	}
	vc, err := codecFor[V](m, "value", m.valueSize)
	if err != nil {
		return nil, err
	}
	if err := m.checkBTF(kc.Layout(), vc.Layout(), opts); err != nil {
		return nil, err
	}
	t := &Typed[K, V]{m: m, kc: kc, vc: vc, k: formOf(kc.Layout().Plan()), v: formOf(vc.Layout().Plan()),
		stride: sys.ValueStride(m.valueSize)}
	t.pool.New = func() any {
		return &scratch[K, V]{key: make([]byte, m.keySize), val: make([]byte, m.valueBuf)}
	}
	t.own = t.pool.New().(*scratch[K, V])
	return t, nil
}

// codecFor returns T's codec, checking that T's C size is size, the map's
// key or value size (what says which).
func codecFor[T any](m *Map, what string, size int) (*structcodec.Codec[T], error) {
	c, err := structcodec.For[T]()
	if err != nil {
		return nil, fmt.Errorf("%s: %s type: %w", m, what, err)
	}
	if c.Size() != size {
		return nil, fmt.Errorf("%s: %s type %v is %d bytes, the map's %ss are %d", m, what, c.Layout().Type(), c.Size(), what, size)
	}
	return c, nil
}

// Map returns the underlying map.
func (t *Typed[K, V]) Map() *Map { return t.m }

func (t *Typed[K, V]) get() *scratch[K, V] {
	if t.busy.CompareAndSwap(false, true) {
		return t.own
	}
	return t.pool.Get().(*scratch[K, V])
}

func (t *Typed[K, V]) put(s *scratch[K, V]) {
	if s == t.own {
		t.busy.Store(false)
		return
	}
	t.pool.Put(s)
}

// keyBytes returns where the kernel finds the C bytes of *key: see
// form.keyPtr, and otherwise s.key, encoded by the codec.
func (t *Typed[K, V]) keyBytes(s *scratch[K, V], key *K, kb *[keyStack]byte) (unsafe.Pointer, error) {
	if p := t.k.keyPtr(unsafe.Pointer(key), kb); p != nil {
		return p, nil
	}
	s.k = *key // Encode lets its argument escape: encode the scratch copy
	if err := t.fail("encode key", t.kc.Encode(s.key, &s.k)); err != nil {
		return nil, err
	}
	return ptr(s.key), nil
}

func (t *Typed[K, V]) perCPUErr(op string) error {
	return &sys.OpError{Object: t.m.String(), Op: op, Err: fmt.Errorf("per-CPU map: use %sPerCPU", op)}
}

// Lookup returns the value stored under key. A missing key gives an error
// wrapping sys.ErrKeyNotExist.
func (t *Typed[K, V]) Lookup(key K) (V, error) {
	var v V
	err := t.LookupInto(key, &v)
	return v, err
}

// LookupInto stores the value under key in *value.
func (t *Typed[K, V]) LookupInto(key K, value *V) error {
	if t.m.ncpu > 0 {
		return t.perCPUErr("Lookup")
	}
	var kb [keyStack]byte
	if kp := t.k.keyPtr(unsafe.Pointer(&key), &kb); kp != nil && t.v.overlay {
		return t.lookupOver(kp, unsafe.Pointer(value), 1)
	}
	s := t.get()
	defer t.put(s)
	kp, err := t.keyBytes(s, &key, &kb)
	if err != nil {
		return err
	}
	if t.v.overlay {
		return t.lookupOver(kp, unsafe.Pointer(value), 1)
	}
	if err := sys.MapLookupElem(t.m.fd, kp, ptr(s.val), 0); err != nil {
		return t.m.elemErr(opLookup, err, kp, 0)
	}
	// Decode into the scratch value: Decode lets its argument escape.
	if err := t.decodeValue(s.val, &s.v); err != nil {
		return err
	}
	*value = s.v
	return nil
}

// lookupOver lets the kernel write the value under the key at kp straight
// into the n values of V at p (n > 1 for per-CPU slots laid out like V).
func (t *Typed[K, V]) lookupOver(kp, p unsafe.Pointer, n int) error {
	if err := sys.MapLookupElem(t.m.fd, kp, p, 0); err != nil {
		return t.m.elemErr(opLookup, err, kp, 0)
	}
	if len(t.v.Bools) > 0 {
		for i := range n {
			t.v.fixBools(unsafe.Add(p, i*t.stride))
		}
	}
	return nil
}

// Update stores value under key.
func (t *Typed[K, V]) Update(key K, value V, flags Flags) error {
	if t.m.ncpu > 0 {
		return t.UpdatePerCPU(key, []V{value}, flags)
	}
	var kb [keyStack]byte
	if kp := t.k.keyPtr(unsafe.Pointer(&key), &kb); kp != nil && t.v.raw {
		err := sys.MapUpdateElem(t.m.fd, kp, unsafe.Pointer(&value), uint64(flags))
		return t.m.elemErr(opUpdate, err, kp, flags)
	}
	s := t.get()
	defer t.put(s)
	kp, err := t.keyBytes(s, &key, &kb)
	if err != nil {
		return err
	}
	s.v = value
	if err := t.encodeValue(s.val, &s.v); err != nil {
		return err
	}
	return t.m.elemErr(opUpdate, sys.MapUpdateElem(t.m.fd, kp, ptr(s.val), uint64(flags)), kp, flags)
}

// Delete removes key. A missing key gives an error wrapping sys.ErrKeyNotExist.
func (t *Typed[K, V]) Delete(key K) error {
	var kb [keyStack]byte
	if kp := t.k.keyPtr(unsafe.Pointer(&key), &kb); kp != nil {
		return t.m.elemErr(opDelete, sys.MapDeleteElem(t.m.fd, kp), kp, 0)
	}
	s := t.get()
	defer t.put(s)
	kp, err := t.keyBytes(s, &key, &kb)
	if err != nil {
		return err
	}
	return t.m.elemErr(opDelete, sys.MapDeleteElem(t.m.fd, kp), kp, 0)
}

// LookupAndDelete returns the value under key and removes the key in one
// step (hash maps since Linux 5.14).
func (t *Typed[K, V]) LookupAndDelete(key K) (V, error) {
	var zero V
	if t.m.ncpu > 0 {
		return zero, t.perCPUErr("LookupAndDelete")
	}
	s := t.get()
	defer t.put(s)
	var kb [keyStack]byte
	kp, err := t.keyBytes(s, &key, &kb)
	if err != nil {
		return zero, err
	}
	if err := sys.MapLookupAndDeleteElem(t.m.fd, kp, ptr(s.val), 0); err != nil {
		return zero, t.m.elemErr(opLookupAndDelete, err, kp, 0)
	}
	if err := t.decodeValue(s.val, &s.v); err != nil {
		return zero, err
	}
	return s.v, nil
}

// decodeKey, decodeValue, encodeKey and encodeValue convert between the
// C bytes in b and Go memory (see decode and encode), naming the map in
// errors.
func (t *Typed[K, V]) decodeKey(b []byte, k *K) error {
	return t.fail("decode key", decode(&t.k, t.kc, b, k))
}

func (t *Typed[K, V]) decodeValue(b []byte, v *V) error {
	return t.fail("decode value", decode(&t.v, t.vc, b, v))
}

func (t *Typed[K, V]) encodeKey(b []byte, k *K) error {
	return t.fail("encode key", encode(&t.k, t.kc, b, k))
}

func (t *Typed[K, V]) encodeValue(b []byte, v *V) error {
	return t.fail("encode value", encode(&t.v, t.vc, b, v))
}

// fail wraps a non-nil err with the map and op.
func (t *Typed[K, V]) fail(op string, err error) error {
	if err != nil {
		return &sys.OpError{Object: t.m.String(), Op: op, Err: err}
	}
	return nil
}
