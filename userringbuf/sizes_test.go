package userringbuf

import (
	"errors"
	"math"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// TestInMemoryHostileSizes: sizes no kernel would accept for a ring are
// refused with EINVAL before anything is allocated. Before, math.MinInt64
// and 1<<62 panicked (index out of range, makeslice) and 1<<40 ran the
// process out of memory.
func TestInMemoryHostileSizes(t *testing.T) {
	for _, size := range []int{math.MinInt64, -os.Getpagesize(), -1, 0, 3, 4095, 1 << 62, 1 << 40, 1 << 32, math.MaxInt64} {
		p, c, err := NewInMemory(size)
		if !errors.Is(err, unix.EINVAL) || p != nil || c != nil {
			t.Errorf("NewInMemory(%d) = %v, want EINVAL", size, err)
		}
	}
}

// FuzzInMemorySize: any size gives a working ring or an EINVAL error, never
// a panic. Valid sizes above 16 MiB are only checked, not allocated.
func FuzzInMemorySize(f *testing.F) {
	for _, s := range []int64{math.MinInt64, -1, 0, 4096, 1 << 31, 1<<31 + 4096, 1 << 32, 1 << 40, 1 << 62, math.MaxInt64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, size int64) {
		if size > 1<<24 && ringproto.CheckSize(uint64(size)) == nil {
			if size > ringproto.MaxSize {
				t.Fatalf("CheckSize accepted %d, over the kernel's limit", size)
			}
			return
		}
		p, c, err := NewInMemory(int(size))
		if err != nil {
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("NewInMemory(%d): %v, want EINVAL", size, err)
			}
			return
		}
		defer p.Close()
		if err := p.Write([]byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Drain(func(b []byte) bool { return len(b) == 3 }, 0); n != 1 || err != nil {
			t.Fatalf("drain: %d, %v", n, err)
		}
	})
}
