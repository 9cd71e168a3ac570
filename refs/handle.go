package refs

import (
	"fmt"
	"strings"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// handle is a reference's view of its map: the map (borrowed, never closed
// here) and the state this process shares about it.
type handle struct {
	m  *mapops.Map
	st *mapState
}

// storeTypes are the map types an EntryRef takes: the general key/value
// stores with one value per key (not one per CPU).
var storeTypes = func() (ts []sys.MapType) {
	for _, t := range sys.MapTypes() {
		if f, _ := t.Facts(); f.Store && f.Value == sys.ValueBytes {
			ts = append(ts, t)
		}
	}
	return ts
}()

// newHandle checks m's type against want and joins the map's shared state.
func newHandle(op string, m *mapops.Map, want ...sys.MapType) (handle, error) {
	if m == nil {
		return handle{}, fmt.Errorf("refs: %s: nil map", op)
	}
	for _, t := range want {
		if m.Type() == t {
			return handle{m: m, st: acquireState(m.ID())}, nil
		}
	}
	names := make([]string, len(want))
	for i, t := range want {
		names[i] = t.String()
	}
	return handle{}, fmt.Errorf("refs: %s: %s: map type is %s, want %s", op, m, m.Type(), strings.Join(names, " or "))
}
