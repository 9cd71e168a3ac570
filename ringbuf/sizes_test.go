package ringbuf

import (
	"context"
	"errors"
	"math"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// TestInMemoryHostileSizes: sizes no kernel would accept for a ring are
// refused with EINVAL before anything is allocated or opened. Before,
// math.MinInt64 and 1<<62 panicked (index out of range, makeslice) with
// two descriptors left open, and 1<<40 ran the process out of memory.
func TestInMemoryHostileSizes(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, size := range []int{math.MinInt64, -os.Getpagesize(), -1, 0, 3, 4095, 1 << 62, 1 << 40, 1 << 32, math.MaxInt64} {
		p, r, err := NewInMemory(size)
		if !errors.Is(err, unix.EINVAL) || p != nil || r != nil {
			if r != nil {
				r.Close()
			}
			t.Errorf("NewInMemory(%d) = %v, want EINVAL", size, err)
		}
	}
	_, r, err := NewInMemory(os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

// FuzzInMemorySize: any size gives a working ring or an EINVAL error, never
// a panic or a leaked descriptor. Valid sizes above 16 MiB are only
// checked, not allocated.
func FuzzInMemorySize(f *testing.F) {
	for _, s := range []int64{math.MinInt64, -1, 0, 4096, 1 << 31, 1<<31 + 4096, 1 << 32, 1 << 40, 1 << 62, math.MaxInt64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, size int64) {
		before := len(testutil.OpenFDs(t))
		if size > 1<<24 && ringproto.CheckSize(uint64(size)) == nil {
			if size > ringproto.MaxSize {
				t.Fatalf("CheckSize accepted %d, over the kernel's limit", size)
			}
			return
		}
		p, r, err := NewInMemory(int(size))
		if err != nil {
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("NewInMemory(%d): %v, want EINVAL", size, err)
			}
		} else {
			if err := p.Write([]byte{1, 2, 3}); err != nil {
				t.Fatal(err)
			}
			if rec, err := r.Read(context.Background()); err != nil || len(rec.Sample) != 3 {
				t.Fatalf("read back: %v, %v", rec, err)
			}
			r.Close()
		}
		if after := len(testutil.OpenFDs(t)); after != before {
			t.Fatalf("NewInMemory(%d): %d descriptors open after, %d before", size, after, before)
		}
	})
}
