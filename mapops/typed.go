package mapops

import (
	"fmt"
	"reflect"
	"slices"
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
// from their C layout only in padding and bools, and build keys that
// differ only in padding and big-endian fields on the stack.
//
// A Typed is safe for concurrent use. It does not own the Map.
type Typed[K, V any] struct {
	m     *Map
	kc    *structcodec.Codec[K]
	vc    *structcodec.Codec[V]
	kSize int
	vSize int
	kFlat bool // K's Go memory is its C bytes
	vFlat bool
	// vBools lists the offsets of V's bools when V's C bytes, written over
	// a V, make that V once those bytes are made 0 or 1 (see overlay);
	// vOverlay says whether they do.
	vOverlay bool
	vBools   []uintptr
	// kPlan builds K's C bytes on the stack when they differ from its Go
	// memory only in byte order and padding; nil otherwise.
	kPlan  *keyPlan
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

// NewTyped returns a typed view of m. It checks once that the C sizes of
// K and V are the map's key and value sizes and, when the map has BTF,
// that their layouts match its key and value types field by field (see
// btf.Check; SkipBTFCheck opts out).
func NewTyped[K, V any](m *Map, opts ...TypedOption) (*Typed[K, V], error) {
	kc, err := structcodec.For[K]()
	if err != nil {
		return nil, fmt.Errorf("%s: key type: %w", m, err)
	}
	vc, err := structcodec.For[V]()
	if err != nil {
		return nil, fmt.Errorf("%s: value type: %w", m, err)
	}
	if kc.Size() != m.keySize {
		return nil, fmt.Errorf("%s: key type %s is %d bytes, the map's keys are %d", m, reflect.TypeFor[K](), kc.Size(), m.keySize)
	}
	if vc.Size() != m.valueSize {
		return nil, fmt.Errorf("%s: value type %s is %d bytes, the map's values are %d", m, reflect.TypeFor[V](), vc.Size(), m.valueSize)
	}
	if err := m.checkBTF(kc.Layout(), vc.Layout(), opts); err != nil {
		return nil, err
	}
	t := &Typed[K, V]{
		m: m, kc: kc, vc: vc, kSize: kc.Size(), vSize: vc.Size(),
		kFlat: flat(kc.Layout()), vFlat: flat(vc.Layout()),
		stride: sys.PerCPUStride(vc.Size()),
	}
	t.vOverlay = overlay(vc.Layout(), 0, &t.vBools)
	if !t.kFlat && t.kSize <= keyStack {
		if p := new(keyPlan); p.add(kc.Layout(), 0, false) {
			t.kPlan = p
		}
	}
	t.pool.New = func() any {
		return &scratch[K, V]{key: make([]byte, t.kSize), val: make([]byte, m.valueBuf)}
	}
	t.own = t.pool.New().(*scratch[K, V])
	return t, nil
}

// flat reports whether a value's Go memory is exactly its C bytes: every
// byte belongs to a field copied as is, so it can be handed to the kernel
// directly. Bools are excluded (the kernel may store any byte).
func flat(l *structcodec.Layout) bool {
	t := l.Type()
	if uintptr(l.Size()) != t.Size() {
		return false
	}
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Array:
		return flat(l.Elem())
	case reflect.Struct:
		fields := l.Fields()
		if len(fields) != t.NumField() {
			return false
		}
		covered := 0
		for _, f := range fields {
			if f.Name == "_" || f.BigEndian || f.CString || uintptr(f.Offset) != t.Field(f.Index).Offset || !flat(f.Layout) {
				return false
			}
			covered += f.Size
		}
		return covered == l.Size()
	}
	return false
}

// maxFixups bounds the bools overlay fixes up after a read and the spans
// keyPlan copies and swaps: beyond it the codec is as fast.
const maxFixups = 64

// overlay reports whether the C bytes of l, copied over the memory of a
// Go value of its type, make that value: Go and C agree on the size and
// on every field's offset, and no field needs converting except bools,
// whose byte may be anything but 0 or 1 in the kernel's copy. It appends
// their offsets, from base, to bools. Padding may differ: reads may fill
// Go's padding, which nothing looks at; writes still go through the codec,
// so that the kernel never sees Go's padding.
func overlay(l *structcodec.Layout, base uintptr, bools *[]uintptr) bool {
	t := l.Type()
	if uintptr(l.Size()) != t.Size() || len(*bools) > maxFixups {
		return false
	}
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Bool:
		*bools = append(*bools, base)
		return true
	case reflect.Array:
		var elem []uintptr
		if !overlay(l.Elem(), 0, &elem) || len(elem)*l.Len() > maxFixups {
			return false
		}
		size := l.Elem().Type().Size()
		for i := range uintptr(l.Len()) {
			for _, off := range elem {
				*bools = append(*bools, base+i*size+off)
			}
		}
		return true
	case reflect.Struct:
		fields := l.Fields()
		if len(fields) != t.NumField() {
			return false
		}
		for _, f := range fields {
			if f.BigEndian || f.CString || uintptr(f.Offset) != t.Field(f.Index).Offset ||
				!overlay(f.Layout, base+uintptr(f.Offset), bools) {
				return false
			}
		}
		return true
	}
	return false
}

// keyStack is the size of the stack buffer keys are built in by keyPlan.
const keyStack = 64

// span is a range of bytes.
type span struct{ off, n uintptr }

// keyPlan builds the C bytes of a key whose Go memory differs from them
// only in byte order (big-endian fields) and padding (zeros in C,
// anything in Go): copy the copies over zeros, then reverse each swap. It
// is the codec's encoding without its call, whose interface conversion
// would move the key and the buffer to the heap.
type keyPlan struct{ copies, swaps []span }

// add plans the field of layout l at base; be says it is big-endian. It
// reports whether the layout qualifies.
func (p *keyPlan) add(l *structcodec.Layout, base uintptr, be bool) bool {
	t := l.Type()
	if uintptr(l.Size()) != t.Size() || len(p.copies)+len(p.swaps) > maxFixups {
		return false
	}
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool:
		if k := len(p.copies) - 1; k >= 0 && p.copies[k].off+p.copies[k].n == base {
			p.copies[k].n += t.Size()
		} else {
			p.copies = append(p.copies, span{base, t.Size()})
		}
		if be && t.Size() > 1 {
			p.swaps = append(p.swaps, span{base, t.Size()})
		}
		return true
	case reflect.Array:
		size := l.Elem().Type().Size()
		for i := range uintptr(l.Len()) {
			if !p.add(l.Elem(), base+i*size, be) {
				return false
			}
		}
		return true
	case reflect.Struct:
		fields := l.Fields()
		if len(fields) != t.NumField() {
			return false
		}
		for _, f := range fields {
			if f.CString || uintptr(f.Offset) != t.Field(f.Index).Offset {
				return false
			}
			if f.Name != "_" && !p.add(f.Layout, base+uintptr(f.Offset), f.BigEndian) { // blank fields stay zero
				return false
			}
		}
		return true
	}
	return false
}

// build writes the C bytes of the key at src into the zeroed dst.
func (p *keyPlan) build(dst *[keyStack]byte, src unsafe.Pointer) {
	for _, c := range p.copies {
		copy(dst[c.off:c.off+c.n], unsafe.Slice((*byte)(unsafe.Add(src, c.off)), c.n))
	}
	for _, s := range p.swaps {
		slices.Reverse(dst[s.off : s.off+s.n])
	}
}

// fixBools makes the bools of the V at p, just overlaid with C bytes, 0 or 1.
func (t *Typed[K, V]) fixBools(p unsafe.Pointer) {
	for _, off := range t.vBools {
		if b := (*uint8)(unsafe.Add(p, off)); *b > 1 {
			*b = 1
		}
	}
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

// keyPtr encodes s.k into s.key unless K is flat, and returns the pointer
// to hand to the kernel.
func (t *Typed[K, V]) keyPtr(s *scratch[K, V]) (unsafe.Pointer, error) {
	if t.kFlat {
		return unsafe.Pointer(&s.k), nil
	}
	if err := t.kc.Encode(s.key, &s.k); err != nil {
		return nil, fmt.Errorf("%s: encode key: %w", t.m, err)
	}
	return ptr(s.key), nil
}

func (t *Typed[K, V]) perCPUErr(op string) error {
	return fmt.Errorf("%s: %s: per-CPU map: use %sPerCPU", t.m, op, op)
}

// Lookup returns the value stored under key. A missing key gives an error
// wrapping ErrKeyNotExist.
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
	if t.kFlat && t.vOverlay {
		if err := sys.MapLookupElem(t.m.fd, unsafe.Pointer(&key), unsafe.Pointer(value), 0); err != nil {
			return lookupErr(err)
		}
		t.fixBools(unsafe.Pointer(value))
		return nil
	}
	if t.kPlan != nil && t.vOverlay {
		var kb [keyStack]byte
		t.kPlan.build(&kb, unsafe.Pointer(&key))
		if err := sys.MapLookupElem(t.m.fd, unsafe.Pointer(&kb), unsafe.Pointer(value), 0); err != nil {
			return lookupErr(err)
		}
		t.fixBools(unsafe.Pointer(value))
		return nil
	}
	s := t.get()
	defer t.put(s)
	s.k = key
	kp, err := t.keyPtr(s)
	if err != nil {
		return err
	}
	if t.vOverlay {
		// The kernel writes straight into *value: no decoding, no copy.
		if err := sys.MapLookupElem(t.m.fd, kp, unsafe.Pointer(value), 0); err != nil {
			return lookupErr(err)
		}
		t.fixBools(unsafe.Pointer(value))
		return nil
	}
	if err := sys.MapLookupElem(t.m.fd, kp, ptr(s.val), 0); err != nil {
		return lookupErr(err)
	}
	// Decode into the scratch value: Decode lets its argument escape.
	if err := t.vc.Decode(s.val, &s.v); err != nil {
		return fmt.Errorf("%s: decode value: %w", t.m, err)
	}
	*value = s.v
	return nil
}

// Update stores value under key.
func (t *Typed[K, V]) Update(key K, value V, flags Flags) error {
	if t.m.ncpu > 0 {
		return t.UpdatePerCPU(key, []V{value}, flags)
	}
	if t.kFlat && t.vFlat {
		return updateErr(sys.MapUpdateElem(t.m.fd, unsafe.Pointer(&key), unsafe.Pointer(&value), uint64(flags)))
	}
	s := t.get()
	defer t.put(s)
	s.k, s.v = key, value
	kp, err := t.keyPtr(s)
	if err != nil {
		return err
	}
	vp := unsafe.Pointer(&s.v)
	if !t.vFlat {
		if err := t.vc.Encode(s.val, &s.v); err != nil {
			return fmt.Errorf("%s: encode value: %w", t.m, err)
		}
		vp = ptr(s.val)
	}
	return updateErr(sys.MapUpdateElem(t.m.fd, kp, vp, uint64(flags)))
}

// Delete removes key. A missing key gives an error wrapping ErrKeyNotExist.
func (t *Typed[K, V]) Delete(key K) error {
	if t.kFlat {
		return deleteErr(sys.MapDeleteElem(t.m.fd, unsafe.Pointer(&key)))
	}
	if t.kPlan != nil {
		var kb [keyStack]byte
		t.kPlan.build(&kb, unsafe.Pointer(&key))
		return deleteErr(sys.MapDeleteElem(t.m.fd, unsafe.Pointer(&kb)))
	}
	s := t.get()
	defer t.put(s)
	s.k = key
	kp, err := t.keyPtr(s)
	if err != nil {
		return err
	}
	return deleteErr(sys.MapDeleteElem(t.m.fd, kp))
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
	s.k = key
	kp, err := t.keyPtr(s)
	if err != nil {
		return zero, err
	}
	if err := sys.MapLookupAndDeleteElem(t.m.fd, kp, ptr(s.val), 0); err != nil {
		return zero, takeErr(err)
	}
	if err := t.decodeValue(s.val, &s.v); err != nil {
		return zero, err
	}
	return s.v, nil
}

// decodeValue sets *v from the C bytes in b.
func (t *Typed[K, V]) decodeValue(b []byte, v *V) error {
	if t.vOverlay {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), t.vSize), b)
		t.fixBools(unsafe.Pointer(v))
		return nil
	}
	if err := t.vc.Decode(b, v); err != nil {
		return fmt.Errorf("%s: decode value: %w", t.m, err)
	}
	return nil
}

// decodeKey sets *k from the C bytes in b.
func (t *Typed[K, V]) decodeKey(b []byte, k *K) error {
	if t.kFlat {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(k)), t.kSize), b)
		return nil
	}
	if err := t.kc.Decode(b, k); err != nil {
		return fmt.Errorf("%s: decode key: %w", t.m, err)
	}
	return nil
}

// encodeKey writes the C bytes of *k to b.
func (t *Typed[K, V]) encodeKey(b []byte, k *K) error {
	if t.kFlat {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(k)), t.kSize))
		return nil
	}
	if err := t.kc.Encode(b, k); err != nil {
		return fmt.Errorf("%s: encode key: %w", t.m, err)
	}
	return nil
}

// encodeValue writes the C bytes of *v to b.
func (t *Typed[K, V]) encodeValue(b []byte, v *V) error {
	if t.vFlat {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(v)), t.vSize))
		return nil
	}
	if err := t.vc.Encode(b, v); err != nil {
		return fmt.Errorf("%s: encode value: %w", t.m, err)
	}
	return nil
}

// PossibleCPUs is the number of values a per-CPU lookup fills.
func (t *Typed[K, V]) PossibleCPUs() int { return t.m.ncpu }

// LookupPerCPU fills values[i] with CPU i's value under key. values must
// hold at least PossibleCPUs elements; it is not reallocated.
func (t *Typed[K, V]) LookupPerCPU(key K, values []V) error {
	if t.m.ncpu == 0 {
		return fmt.Errorf("%s: LookupPerCPU: not a per-CPU map", t.m)
	}
	if len(values) < t.m.ncpu {
		return fmt.Errorf("%s: LookupPerCPU: %d values given, the map has one per possible CPU: %d", t.m, len(values), t.m.ncpu)
	}
	// Where the kernel's per-CPU slots are laid out like the slice's
	// elements, it writes straight into values.
	direct := t.vOverlay && uintptr(t.stride) == unsafe.Sizeof(values[0])
	if direct && t.kFlat {
		if err := sys.MapLookupElem(t.m.fd, unsafe.Pointer(&key), unsafe.Pointer(&values[0]), 0); err != nil {
			return lookupErr(err)
		}
		t.fixBoolsPerCPU(values)
		return nil
	}
	s := t.get()
	defer t.put(s)
	s.k = key
	kp, err := t.keyPtr(s)
	if err != nil {
		return err
	}
	if direct {
		if err := sys.MapLookupElem(t.m.fd, kp, unsafe.Pointer(&values[0]), 0); err != nil {
			return lookupErr(err)
		}
		t.fixBoolsPerCPU(values)
		return nil
	}
	if err := sys.MapLookupElem(t.m.fd, kp, ptr(s.val), 0); err != nil {
		return lookupErr(err)
	}
	return t.decodePerCPU(s.val, values)
}

func (t *Typed[K, V]) fixBoolsPerCPU(values []V) {
	if len(t.vBools) > 0 {
		for i := range t.m.ncpu {
			t.fixBools(unsafe.Pointer(&values[i]))
		}
	}
}

func (t *Typed[K, V]) decodePerCPU(b []byte, values []V) error {
	for i := range t.m.ncpu {
		if err := t.decodeValue(b[i*t.stride:], &values[i]); err != nil {
			return err
		}
	}
	return nil
}

// UpdatePerCPU stores values under key: one value for every CPU, or
// exactly PossibleCPUs values, CPU i getting values[i].
func (t *Typed[K, V]) UpdatePerCPU(key K, values []V, flags Flags) error {
	if t.m.ncpu == 0 {
		return fmt.Errorf("%s: UpdatePerCPU: not a per-CPU map", t.m)
	}
	if len(values) != 1 && len(values) != t.m.ncpu {
		return fmt.Errorf("%s: UpdatePerCPU: %d values given, want 1 (for all CPUs) or %d (one per possible CPU)", t.m, len(values), t.m.ncpu)
	}
	s := t.get()
	defer t.put(s)
	s.k = key
	kp, err := t.keyPtr(s)
	if err != nil {
		return err
	}
	for i := range t.m.ncpu {
		v := &values[0]
		if len(values) > 1 {
			v = &values[i]
		}
		s.v = *v
		if err := t.encodeValue(s.val[i*t.stride:], &s.v); err != nil {
			return err
		}
	}
	return updateErr(sys.MapUpdateElem(t.m.fd, kp, ptr(s.val), uint64(flags)))
}
