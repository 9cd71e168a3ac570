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

// newHandle checks m's type against want (unix.BPF_MAP_TYPE_*) and joins
// the map's shared state.
func newHandle(op string, m *mapops.Map, want ...uint32) (handle, error) {
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
		names[i] = sys.MapTypeName(t)
	}
	return handle{}, fmt.Errorf("refs: %s: %s: map type is %s, want %s", op, m, sys.MapTypeName(m.Type()), strings.Join(names, " or "))
}
