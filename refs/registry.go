package refs

import "sync"

// mapState is what every reference of this process over one kernel map
// shares, whichever descriptor it came through: the per-key locks that make
// EntryRef's Swap and CompareAndSwap atomic among all of them, and the
// broadcast that wakes waiters when one of them writes the map.
//
// Maps are told apart by their kernel id, so two descriptors of the same
// map (a dup, a second open of a pin) share one state.
type mapState struct {
	id    uint32
	users int // references holding it; guarded by registry.mu

	mu      sync.Mutex
	changed chan struct{} // closed by the next write; nil until someone waits
	keys    map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int // guarded by mapState.mu
}

var registry struct {
	mu   sync.Mutex
	maps map[uint32]*mapState
}

// acquireState returns the shared state of the map with kernel id id;
// release it when the reference closes.
func acquireState(id uint32) *mapState {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.maps == nil {
		registry.maps = make(map[uint32]*mapState)
	}
	st := registry.maps[id]
	if st == nil {
		st = &mapState{id: id, keys: make(map[string]*keyLock)}
		registry.maps[id] = st
	}
	st.users++
	return st
}

func (st *mapState) release() {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if st.users--; st.users == 0 {
		delete(registry.maps, st.id)
	}
}

// changes returns a channel that is closed by the next write through a
// reference of this process. Take it before checking the map.
func (st *mapState) changes() <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.changed == nil {
		st.changed = make(chan struct{})
	}
	return st.changed
}

// notify wakes everyone waiting on changes. It allocates nothing when
// nobody waits.
func (st *mapState) notify() {
	st.mu.Lock()
	if st.changed != nil {
		close(st.changed)
		st.changed = nil
	}
	st.mu.Unlock()
}

// lockFor returns the lock of key (its encoded bytes), shared by every
// EntryRef of this process on the same map and key. Pair it with
// unlockFor when the reference closes.
func (st *mapState) lockFor(key string) *keyLock {
	st.mu.Lock()
	defer st.mu.Unlock()
	kl := st.keys[key]
	if kl == nil {
		kl = &keyLock{}
		st.keys[key] = kl
	}
	kl.users++
	return kl
}

func (st *mapState) unlockFor(key string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if kl := st.keys[key]; kl != nil {
		if kl.users--; kl.users == 0 {
			delete(st.keys, key)
		}
	}
}
