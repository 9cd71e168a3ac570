package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// mapRefHelp documents how a map is named on the command line.
const mapRefHelp = `MAP is one of:
  12 or id:12        the map's id (see bpfmaps list)
  /sys/fs/bpf/name   a pinned path (anything with a slash)
  counts or name:counts   the map's name; it must match exactly one map
An id or a name needs CAP_SYS_ADMIN (the kernel opens maps by id and walks
their ids only for it); a pinned path needs CAP_BPF and the file's
permissions.`

// bpfMap is a map the tool has opened and the kernel's description of it.
type bpfMap struct {
	*mapops.Map
	info sys.MapInfo
}

func (m *bpfMap) typeName() string { return m.info.Type.String() }

// aType is the map's type with its article: "a hash map", "an array map".
func (m *bpfMap) aType() string {
	if strings.ContainsRune("aeiou", rune(m.typeName()[0])) {
		return "an " + m.typeName() + " map"
	}
	return "a " + m.typeName() + " map"
}

// wrap names the map and the operation in err, the map once: most errors
// of mapops name it already.
func (m *bpfMap) wrap(op string, err error) error {
	return &mapError{m.String(), op, err}
}

// mapError is an error of an operation on a map.
type mapError struct {
	mapName, op string
	err         error
}

func (e *mapError) Error() string {
	return e.mapName + ": " + e.op + ": " + strings.TrimPrefix(e.err.Error(), e.mapName+": ")
}

func (e *mapError) Unwrap() error { return e.err }

// openMap opens the map that ref names (see mapRefHelp).
func openMap(ref string) (*bpfMap, error) {
	var (
		m   *mapops.Map
		err error
	)
	switch {
	case ref == "":
		return nil, usageError{"empty map name"}
	case strings.Contains(ref, "/"):
		// sys.ObjGet says when the path cannot hold a pinned map.
		if m, err = mapops.Open(ref); err != nil {
			return nil, err
		}
	case strings.HasPrefix(ref, "id:") || isDigits(ref):
		n := strings.TrimPrefix(ref, "id:")
		id, perr := strconv.ParseUint(n, 10, 32)
		if errors.Is(perr, strconv.ErrRange) {
			return nil, usageError{fmt.Sprintf("map id %s is out of range: ids are at most %d", n, uint32(math.MaxUint32))}
		}
		if perr != nil {
			return nil, usageError{fmt.Sprintf("bad map id %q: want a decimal number", n)}
		}
		if m, err = mapops.OpenID(uint32(id)); err != nil {
			return nil, needsSysAdmin(err, fmt.Sprintf("open map id %d", id), needOpenID+pinnedHint)
		}
	default:
		name := strings.TrimPrefix(ref, "name:")
		id, err := mapIDByName(name)
		if err != nil {
			return nil, err
		}
		if m, err = mapops.OpenID(id); err != nil {
			if errors.Is(err, unix.EPERM) {
				return nil, needsSysAdmin(err, fmt.Sprintf("open map %q (id %d)", name, id), needOpenID+pinnedHint)
			}
			return nil, fmt.Errorf("map %q: %w", name, err)
		}
	}
	info, err := m.Info()
	if err != nil {
		m.Close()
		return nil, err
	}
	return &bpfMap{Map: m, info: info}, nil
}

// mapIDByName finds the one map called name.
func mapIDByName(name string) (uint32, error) {
	maps, err := listMaps()
	if errors.Is(err, unix.EPERM) {
		return 0, needsSysAdmin(err, fmt.Sprintf("find map %q", name), needListIDs+pinnedHint)
	}
	if err != nil {
		return 0, fmt.Errorf("find map %q: %w", name, err)
	}
	var ids []string
	var id uint32
	for _, m := range maps {
		if m.Name == name {
			id = m.ID
			ids = append(ids, strconv.FormatUint(uint64(m.ID), 10))
		}
	}
	switch len(ids) {
	case 0:
		hint := ""
		if len(name) >= sys.ObjNameLen {
			hint = fmt.Sprintf(" (map names hold at most %d bytes)", sys.ObjNameLen-1)
		}
		return 0, fmt.Errorf("no map named %q%s", name, hint)
	case 1:
		return id, nil
	}
	return 0, fmt.Errorf("map name %q is ambiguous: ids %s (name one with id:N)", name, strings.Join(ids, ", "))
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// keyless reports whether the map has no keys (queues, stacks, bloom
// filters), so that get/put/del do not apply and push/pop/peek do.
func (m *bpfMap) keyless() bool {
	f, _ := m.info.Type.Facts()
	return f.Ops&sys.OpPeek != 0
}

// fdinfo reads a field ("frozen", "memlock") of the map's
// /proc/self/fdinfo entry, as bpftool does; "" when absent.
func (m *bpfMap) fdinfo(field string) string {
	fd := m.FD()
	raw, err := fd.Acquire()
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", raw))
	fd.Release()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
