package refs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// keyed is the machinery behind the references to one key of a hash,
// array, LRU hash or LPM trie map: a typed view of the map, the key, and
// the key's bytes, which name it in the process-wide lock table.
type keyed[K, V any] struct {
	life
	h     handle
	t     *mapops.Typed[K, V]
	key   K
	kb    string
	vc    *structcodec.Codec[V]
	vsize int
}

func newKeyed[K, V any](name string, m *mapops.Map, key K, typed []mapops.TypedOption) (*keyed[K, V], error) {
	op := "new " + name
	h, err := newHandle(op, m, storeTypes...)
	if err != nil {
		return nil, err
	}
	k := &keyed[K, V]{life: newLife(), h: h, key: key, vsize: m.ValueSize()}
	if err := k.init(m, typed); err != nil {
		h.st.release()
		return nil, fmt.Errorf("refs: %s: %w", op, err)
	}
	return k, nil
}

func (k *keyed[K, V]) init(m *mapops.Map, typed []mapops.TypedOption) (err error) {
	if k.t, err = mapops.NewTyped[K, V](m, typed...); err != nil {
		return err
	}
	if k.vc, err = structcodec.For[V](); err != nil {
		return err
	}
	kc, err := structcodec.For[K]()
	if err != nil {
		return err
	}
	kb := make([]byte, kc.Size())
	if err := kc.Encode(kb, &k.key); err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	k.kb = string(kb)
	return nil
}

func (k *keyed[K, V]) close() bool {
	if !k.life.close() {
		return false
	}
	k.h.st.release()
	return true
}

// load reads the value; ok is false when the key is missing. With canon it
// also returns the value re-encoded from V, so that two values compare
// equal exactly when they are equal as V (padding and skipped fields, which
// a BPF program may fill, do not count).
func (k *keyed[K, V]) load(canon []byte) (v V, ok bool, err error) {
	if k.isClosed() {
		return v, false, errClosed
	}
	v, err = k.t.Lookup(k.key)
	if errors.Is(err, sys.ErrKeyNotExist) {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	if canon != nil {
		if err := k.encode(canon, v); err != nil {
			return v, false, err
		}
	}
	return v, true, nil
}

// encode writes v's bytes to dst, for comparisons.
func (k *keyed[K, V]) encode(dst []byte, v V) error {
	if err := k.vc.Encode(dst, &v); err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return nil
}

func (k *keyed[K, V]) store(v V) error {
	if err := k.t.Update(k.key, v, mapops.Any); err != nil {
		return err
	}
	k.h.st.notify()
	return nil
}

// EntryRef is an atom-like reference to one key of a map: clj-ebpf's
// map-entry-ref, where @ref is Load, reset! is Store, swap! is Swap and
// compare-and-set! is CompareAndSwap.
//
// Atomicity. Store, Swap and CompareAndSwap hold a lock shared by every
// EntryRef of this process on the same map and key (whichever descriptor
// or reference object they came through), so N goroutines each doing M
// Swap(inc) add exactly N×M. The kernel knows nothing of that lock: a BPF
// program, or another process, writing the same key is not excluded and
// can write between Swap's lookup and its update, and that write is then
// lost; Load and CompareAndSwap see whatever value the map holds at the
// moment of their lookup. For exclusion with BPF programs, update the value
// in the program with atomic instructions (BPF_ATOMIC add, xchg, cmpxchg),
// or put a struct bpf_spin_lock in the value, take it with
// bpf_spin_lock/bpf_spin_unlock in the program, and write from user space
// with the BPF_F_LOCK flag (mapops' Lock update flag).
//
// An optional validator (see Validator) vets every new value before
// anything is written. An EntryRef is safe for concurrent use. It borrows
// its map and does not close it.
type EntryRef[K, V any] struct {
	k        *keyed[K, V]
	lock     *keyLock
	validate func(V) error
}

// EntryOption configures an EntryRef.
type EntryOption[V any] func(*entrySettings[V])

type entrySettings[V any] struct {
	validate func(V) error
	typed    []mapops.TypedOption
}

// EntryTypedOptions passes opts to mapops.NewTyped when NewEntryRef checks
// K and V against the map: mapops.CheckBTF or mapops.AllowUnreadableBTF
// for a process without CAP_SYS_ADMIN, which may not read the map's BTF.
func EntryTypedOptions[V any](opts ...mapops.TypedOption) EntryOption[V] {
	return func(s *entrySettings[V]) { s.typed = append(s.typed, opts...) }
}

// Validator makes an EntryRef check every new value with f before it is
// written (clj-ebpf's :validator). A non-nil error from f rejects the
// value: Store, Swap and CompareAndSwap then write nothing and fail with an
// error wrapping both ErrInvalidValue and f's error.
func Validator[V any](f func(V) error) EntryOption[V] {
	return func(s *entrySettings[V]) { s.validate = f }
}

// NewEntryRef returns a reference to key in m, a hash, array, LRU hash or
// LPM trie map whose key and value sizes are the encoded sizes of K and V
// (both go through structcodec, so either can be a tagged struct).
func NewEntryRef[K, V any](m *mapops.Map, key K, opts ...EntryOption[V]) (*EntryRef[K, V], error) {
	var s entrySettings[V]
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	k, err := newKeyed[K, V]("entry ref", m, key, s.typed)
	if err != nil {
		return nil, err
	}
	return &EntryRef[K, V]{k: k, lock: k.h.st.lockFor(k.kb), validate: s.validate}, nil
}

// Load returns the value stored under the key; ok is false when the key is
// not in the map.
func (r *EntryRef[K, V]) Load() (v V, ok bool, err error) {
	v, ok, err = r.k.load(nil)
	if err != nil {
		return v, false, fmt.Errorf("refs: entry load: %w", err)
	}
	return v, ok, nil
}

func (r *EntryRef[K, V]) check(op string, v V) error {
	if r.validate == nil {
		return nil
	}
	if err := r.validate(v); err != nil {
		return fmt.Errorf("refs: %s: %w: %w", op, ErrInvalidValue, err)
	}
	return nil
}

// locked runs f with the key's lock held, after checking that the
// reference is still open.
func (r *EntryRef[K, V]) locked(op string, f func() error) error {
	r.lock.Lock()
	defer r.lock.Unlock()
	if r.k.isClosed() {
		return fmt.Errorf("refs: %s: %w", op, errClosed)
	}
	if err := f(); err != nil {
		return fmt.Errorf("refs: %s: %w", op, err)
	}
	return nil
}

// Store writes v under the key (clj-ebpf's reset!), creating it if needed.
func (r *EntryRef[K, V]) Store(v V) error {
	if err := r.check("entry store", v); err != nil {
		return err
	}
	return r.locked("entry store", func() error { return r.k.store(v) })
}

// Swap replaces the value with f(old) and returns the new value
// (clj-ebpf's swap!; unlike sync/atomic's Swap it takes a function). A
// missing key passes V's zero value to f. f runs exactly once, with the
// key's lock held, so it must not call Store, Swap or CompareAndSwap on a
// reference to the same key. If the validator rejects f's result, nothing is
// written. See EntryRef for what BPF programs writing the key can see.
func (r *EntryRef[K, V]) Swap(f func(old V) V) (V, error) {
	r.lock.Lock()
	defer r.lock.Unlock()
	var nv V
	if r.k.isClosed() {
		return nv, fmt.Errorf("refs: entry swap: %w", errClosed)
	}
	old, _, err := r.k.load(nil)
	if err != nil {
		return nv, fmt.Errorf("refs: entry swap: %w", err)
	}
	nv = f(old)
	if err := r.check("entry swap", nv); err != nil {
		return nv, err
	}
	if err := r.k.store(nv); err != nil {
		return nv, fmt.Errorf("refs: entry swap: %w", err)
	}
	return nv, nil
}

// CompareAndSwap writes new if the value stored under the key equals old
// (as a V: the same encoded bytes), and reports whether it did (clj-ebpf's
// compare-and-set!). A missing key equals no old value: StoreIfAbsent
// creates a missing key. new is validated first.
func (r *EntryRef[K, V]) CompareAndSwap(old, new V) (swapped bool, err error) {
	if err := r.check("entry compare and swap", new); err != nil {
		return false, err
	}
	want := make([]byte, r.k.vsize)
	if err := r.k.encode(want, old); err != nil {
		return false, fmt.Errorf("refs: entry compare and swap: %w", err)
	}
	got := make([]byte, r.k.vsize)
	err = r.locked("entry compare and swap", func() error {
		_, ok, err := r.k.load(got)
		if err != nil || !ok || !bytes.Equal(got, want) {
			return err
		}
		swapped = true
		return r.k.store(new)
	})
	return swapped && err == nil, err
}

// StoreIfAbsent writes v under the key only if the key is missing, and
// reports whether it did: the create-if-absent form of CompareAndSwap
// (clj-ebpf's compare-and-set! with nil as the old value). The kernel
// checks the absence and writes in one step (BPF_NOEXIST), so a BPF
// program or another process that creates the key first is never
// overwritten; among this process's references it holds the key's lock
// like CompareAndSwap. v is validated first. In an array every key
// exists, so it never stores there.
func (r *EntryRef[K, V]) StoreIfAbsent(v V) (stored bool, err error) {
	const op = "entry store if absent"
	if err := r.check(op, v); err != nil {
		return false, err
	}
	err = r.locked(op, func() error {
		err := r.k.t.Update(r.k.key, v, mapops.NoExist)
		if errors.Is(err, sys.ErrKeyExist) {
			return nil
		}
		if err != nil {
			return err
		}
		stored = true
		r.k.h.st.notify()
		return nil
	})
	return stored && err == nil, err
}

// Close closes the reference. A Store, Swap or CompareAndSwap already
// holding the key's lock finishes first; later calls fail with an error
// wrapping os.ErrClosed. The map stays open. Close is idempotent.
func (r *EntryRef[K, V]) Close() error {
	if r.k.close() {
		r.lock.Lock()
		r.k.h.st.unlockFor(r.k.kb)
		r.lock.Unlock()
	}
	return nil
}

// watcher is the one implementation of MapWatcher and ChangeWatcher: the
// key, the poll interval and the wait, which returns the first value that
// accept takes (cur holds its bytes, encoded as V).
type watcher[K, V any] struct {
	k      *keyed[K, V]
	poll   time.Duration
	op     string
	accept func(cur []byte) bool
}

func newWatcher[K, V any](kind string, m *mapops.Map, key K, opts []Option) (watcher[K, V], error) {
	s, err := applyOptions("new "+kind, opts)
	if err != nil {
		return watcher[K, V]{}, err
	}
	k, err := newKeyed[K, V](kind, m, key, s.typed)
	if err != nil {
		return watcher[K, V]{}, err
	}
	return watcher[K, V]{k: k, poll: s.poll}, nil
}

// Wait returns the value under the key as soon as the watcher's condition
// holds: for a MapWatcher, that the key exists; for a ChangeWatcher, that
// its value differs from the last one seen. It fails when ctx ends or the
// watcher is closed (with an error wrapping os.ErrClosed).
func (w *watcher[K, V]) Wait(ctx context.Context) (V, error) {
	var v V
	var cur []byte
	if w.accept != nil {
		cur = make([]byte, w.k.vsize)
	}
	err := w.k.pollUntil(ctx, w.poll, w.k.h.st, func() (bool, error) {
		var ok bool
		var err error
		v, ok, err = w.k.load(cur)
		return ok && err == nil && (w.accept == nil || w.accept(cur)), err
	})
	if err != nil {
		return v, fmt.Errorf("refs: %s: %w", w.op, err)
	}
	return v, nil
}

// WaitTimeout is Wait with a time limit: ok is false, with a nil error, when
// the condition did not hold within d. A d of zero checks once; a negative
// d (Forever) waits without limit.
func (w *watcher[K, V]) WaitTimeout(d time.Duration) (v V, ok bool, err error) {
	return waitTimeout(w.op, d, w.Wait)
}

// Close closes the watcher, waking every call blocked in it. The map stays
// open. Close is idempotent.
func (w *watcher[K, V]) Close() error {
	w.k.close()
	return nil
}

// MapWatcher waits for a key to appear in a map and returns its value:
// clj-ebpf's map-watch, where @ref is Wait and (deref ref ms timeout-val) is
// WaitTimeout. The kernel cannot wake user space when a map is written, so
// the wait checks the map with back-off up to its poll interval (see
// PollInterval); writes through this package's references in this process
// wake it at once. It is safe for concurrent use and does not close its
// map.
type MapWatcher[K, V any] struct{ watcher[K, V] }

// NewMapWatcher returns a watcher of key in m, a hash, array, LRU hash or
// LPM trie map whose key and value sizes are the encoded sizes of K and V.
// An array always holds every key, so on an array Wait returns at once.
func NewMapWatcher[K, V any](m *mapops.Map, key K, opts ...Option) (*MapWatcher[K, V], error) {
	w, err := newWatcher[K, V]("map watcher", m, key, opts)
	if err != nil {
		return nil, err
	}
	w.op = "map watch"
	return &MapWatcher[K, V]{w}, nil
}

// ChangeWatcher waits for the value under a key to change: clj-ebpf's
// map-watch-changes. Each Wait returns the first value, seen from the
// moment it starts, that differs from the last value this watcher returned
// (or from the initial value given to NewChangeWatcherFrom), and
// remembers it. Values are compared as V (their encoded bytes). A missing
// key is no value: deleting it is not a change, re-creating it with a new
// value is.
//
// A watcher samples the map, so changes that come and go between two
// samples are not seen; it reports the latest value, not every write. Its
// waits back off and wake like MapWatcher's. It is safe for concurrent use:
// each change is returned to one caller. It does not close its map.
type ChangeWatcher[K, V any] struct {
	watcher[K, V]

	mu   sync.Mutex
	last []byte // encoded last value; nil when none yet
}

// NewChangeWatcher returns a watcher of changes to key in m (a hash, array,
// LRU hash or LPM trie map whose key and value sizes are the encoded sizes
// of K and V). Having seen nothing yet, its first Wait returns the value as
// soon as the key exists.
func NewChangeWatcher[K, V any](m *mapops.Map, key K, opts ...Option) (*ChangeWatcher[K, V], error) {
	w, err := newWatcher[K, V]("change watcher", m, key, opts)
	if err != nil {
		return nil, err
	}
	c := &ChangeWatcher[K, V]{watcher: w}
	c.op, c.accept = "map watch changes", c.changed
	return c, nil
}

// NewChangeWatcherFrom is NewChangeWatcher with initial taken as the last
// value seen (clj-ebpf's :initial-value): Wait returns only once the value
// differs from initial.
func NewChangeWatcherFrom[K, V any](m *mapops.Map, key K, initial V, opts ...Option) (*ChangeWatcher[K, V], error) {
	w, err := NewChangeWatcher[K, V](m, key, opts...)
	if err != nil {
		return nil, err
	}
	w.last = make([]byte, w.k.vsize)
	if err := w.k.encode(w.last, initial); err != nil {
		w.Close()
		return nil, fmt.Errorf("refs: new change watcher: initial value: %w", err)
	}
	return w, nil
}

// changed reports whether cur differs from the last value returned, and
// makes it the last one if so.
func (w *ChangeWatcher[K, V]) changed(cur []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last != nil && bytes.Equal(w.last, cur) {
		return false
	}
	w.last = append(w.last[:0], cur...)
	return true
}

// Seq yields successive changed values for a range loop. Each step waits
// up to timeout for the next change (Forever, or any negative timeout,
// waits without limit; zero checks once). The sequence ends quietly when
// a wait times out, the loop breaks, the watcher is closed or ctx ends
// (ctx.Err() tells); any other error ends it too, and the returned
// function reports it (nil otherwise): call it after the loop.
func (w *ChangeWatcher[K, V]) Seq(ctx context.Context, timeout time.Duration) (iter.Seq[V], func() error) {
	return stream(ctx, timeout, w.Wait, &w.k.life)
}

// SeqTimeoutValue is Seq that does not end on a timeout: a step that
// waits timeout without a change yields onTimeout and the sequence goes on
// (clj-ebpf's :timeout-val). It ends when the loop breaks, the watcher is
// closed, ctx ends or a wait fails, as Seq does. timeout should be
// positive: zero yields onTimeout at once whenever nothing changed.
func (w *ChangeWatcher[K, V]) SeqTimeoutValue(ctx context.Context, timeout time.Duration, onTimeout V) (iter.Seq[V], func() error) {
	return stream(ctx, timeout, w.Wait, &w.k.life, onTimeout)
}

// Chan delivers changed values on an unbuffered channel, for select loops.
// Its goroutine ends when ctx ends, the watcher is closed or a wait fails;
// then the value channel is closed and the error channel receives the
// error that ended it (nil after ctx or Close) and is closed.
func (w *ChangeWatcher[K, V]) Chan(ctx context.Context) (<-chan V, <-chan error) {
	return toChan(ctx, w.Wait, &w.k.life)
}
