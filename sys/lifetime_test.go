package sys_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bpfmaps/bpfmaps/sys"
)

func TestLifetimeSequence(t *testing.T) {
	var l sys.Lifetime
	if first, idle := l.Close(); !first || !idle {
		t.Fatalf("Close of an idle Lifetime = %v, %v, want true, true", first, idle)
	}
	if l.Acquire() {
		t.Fatal("Acquire succeeded after Close")
	}

	var m sys.Lifetime
	for range 2 {
		if !m.Acquire() {
			t.Fatal("Acquire failed on an open Lifetime")
		}
	}
	if first, idle := m.Close(); !first || idle {
		t.Fatalf("Close with two calls in flight = %v, %v, want true, false", first, idle)
	}
	if first, idle := m.Close(); first || idle {
		t.Fatalf("second Close = %v, %v, want false, false", first, idle)
	}
	if !m.Closed() || m.Idle() {
		t.Fatalf("Closed %v Idle %v, want true, false", m.Closed(), m.Idle())
	}
	if m.Acquire() {
		t.Fatal("Acquire succeeded after Close")
	}
	if m.Release() {
		t.Fatal("the first of two Releases reported last")
	}
	if !m.Release() {
		t.Fatal("the last Release after Close did not report last")
	}
	if !m.Idle() {
		t.Fatal("not idle after the last Release")
	}
}

// TestLifetimeConcurrent: whatever the interleaving of calls and Close,
// the resources are freed exactly once, and never while a call uses them.
func TestLifetimeConcurrent(t *testing.T) {
	for range 200 {
		var (
			l     sys.Lifetime
			freed atomic.Int32
			wg    sync.WaitGroup
		)
		free := func() { freed.Add(1) }
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if !l.Acquire() {
						return
					}
					if freed.Load() != 0 {
						t.Error("a call acquired freed resources")
					}
					if l.Release() {
						free()
					}
				}
			}()
		}
		runtime.Gosched()
		if _, idle := l.Close(); idle {
			free()
		}
		wg.Wait()
		if n := freed.Load(); n != 1 {
			t.Fatalf("freed %d times, want once", n)
		}
	}
}
