package refs

import "github.com/bpfmaps/bpfmaps/sys"

// TEMPORARY until mapops lands.
type Map interface{ FD() *sys.FD }

func mapFD(m Map) *sys.FD {
	if m == nil {
		return nil
	}
	return m.FD()
}
