package refs

import "github.com/bpfmaps/bpfmaps/sys"

// Map is the map or ring a reference works on: a *mapops.Map, or anything
// else that holds an open BPF map descriptor. References borrow it: they
// never close it, and it must stay open while they are used (calls on a
// reference whose map was closed fail with an error wrapping os.ErrClosed).
type Map interface {
	FD() *sys.FD
}

func mapFD(m Map) *sys.FD {
	if m == nil {
		return nil
	}
	return m.FD()
}
