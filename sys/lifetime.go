package sys

import "sync/atomic"

// Lifetime is the closed state of an object whose resources (a
// descriptor, mapped memory) are used by calls that hold no lock while
// another goroutine may call Close: one atomic word holding a closed bit
// and the number of calls in flight. It is the library's one closed-state
// primitive; FD is built on it, and so are the ring readers.
//
// A call brackets its use of the resources with Acquire and Release;
// Acquire fails once Close has begun, so no call starts on a closed
// object. Close never waits: whoever ends last frees the resources, Close
// itself when no call is in flight (idle), else the Release that brings
// the count to zero (last). Close wakes blocked callers by its own means
// (an epoll kick); they return, Release, and the last one frees.
//
// The policy for memory after Close, the same in every package (see
// docs/lifetime.md): memory lent to the caller only for the length of a
// call (a ringbuf Consume callback's sample) is unmapped when the last
// call in flight returns; memory handed out to be kept (mapops
// Map.Memory, a userringbuf Sample's Bytes) is never unmapped under the
// caller: Close swaps it, in place, for private anonymous memory, so that
// a stale slice reads and writes memory of its own instead of the map or
// a fault, and it is unmapped when no reference to it is left.
//
// The zero Lifetime is open with no call in flight.
type Lifetime struct {
	state atomic.Uint64 // closedBit | calls in flight
}

// closedBit marks a Lifetime as closed; the low bits count the calls in
// flight.
const closedBit = 1 << 63

// Acquire counts a call in and reports whether it may use the resources:
// false once Close has begun (then nothing is held). Every Acquire that
// returns true is paired with one Release.
func (l *Lifetime) Acquire() bool {
	for {
		s := l.state.Load()
		if s&closedBit != 0 {
			return false
		}
		if l.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// Release ends a call begun by a successful Acquire. It returns true for
// the last call out of a closed object: the caller frees the resources.
func (l *Lifetime) Release() (last bool) {
	return l.state.Add(^uint64(0)) == closedBit
}

// Close marks the object closed. first is true for the one call that
// closed it (later calls change nothing), and idle is true when, in that
// call, no call was in flight: then the caller frees the resources now,
// otherwise the last Release does.
func (l *Lifetime) Close() (first, idle bool) {
	for {
		s := l.state.Load()
		if s&closedBit != 0 {
			return false, false
		}
		if l.state.CompareAndSwap(s, s|closedBit) {
			return true, s == 0
		}
	}
}

// Closed reports whether Close has begun.
func (l *Lifetime) Closed() bool { return l.state.Load()&closedBit != 0 }

// Idle reports whether no call is in flight.
func (l *Lifetime) Idle() bool { return l.state.Load()&^closedBit == 0 }
