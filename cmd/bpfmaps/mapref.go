package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// mapRefHelp documents how a map is named on the command line.
const mapRefHelp = `MAP is one of:
  12 or id:12        the map's id (see bpfmaps list)
  /sys/fs/bpf/name   a pinned path (anything with a slash)
  counts or name:counts   the map's name; it must match exactly one map`

// bpfMap is a map the tool has opened: its descriptor and the kernel's
// description of it.
type bpfMap struct {
	fd   *sys.FD
	info sys.MapInfo
}

// String names the map in errors and output: map 12 "counts".
func (m *bpfMap) String() string { return fmt.Sprintf("map %d %q", m.info.ID, m.info.NameString()) }

func (m *bpfMap) Close() { m.fd.Close() }

func (m *bpfMap) typeName() string { return sys.MapTypeName(m.info.Type) }

// wrap names the map and the operation in err.
func (m *bpfMap) wrap(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", m, op, err)
}

// openMap opens the map that ref names (see mapRefHelp).
func openMap(ref string) (*bpfMap, error) {
	var (
		fd  *sys.FD
		err error
	)
	switch {
	case ref == "":
		return nil, usageError{"empty map name"}
	case strings.Contains(ref, "/"):
		if err := onBPFFS(ref); err != nil {
			return nil, fmt.Errorf("open map pinned at %s: %w", ref, err)
		}
		fd, err = sys.ObjGet(ref, 0)
		if err != nil {
			return nil, fmt.Errorf("open map pinned at %s: %w", ref, err)
		}
	case strings.HasPrefix(ref, "id:") || isDigits(ref):
		n := strings.TrimPrefix(ref, "id:")
		id, perr := strconv.ParseUint(n, 10, 32)
		if perr != nil {
			return nil, usageError{fmt.Sprintf("bad map id %q: want a decimal number", n)}
		}
		fd, err = sys.MapGetFDByID(uint32(id), 0)
		if err != nil {
			return nil, fmt.Errorf("open map id %d: %w", id, err)
		}
	default:
		name := strings.TrimPrefix(ref, "name:")
		id, err := mapIDByName(name)
		if err != nil {
			return nil, err
		}
		fd, err = sys.MapGetFDByID(id, 0)
		if err != nil {
			return nil, fmt.Errorf("open map %q (id %d): %w", name, id, err)
		}
	}
	info, err := sys.MapGetInfo(fd)
	if err != nil {
		fd.Close()
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EBADF) {
			return nil, fmt.Errorf("open %s: not a BPF map", ref)
		}
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	return &bpfMap{fd: fd, info: info}, nil
}

// mapIDByName finds the one map called name.
func mapIDByName(name string) (uint32, error) {
	maps, err := listMaps()
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

// perCPU reports whether lookups of the map return one value per CPU.
func (m *bpfMap) perCPU() bool {
	switch m.info.Type {
	case unix.BPF_MAP_TYPE_PERCPU_HASH, unix.BPF_MAP_TYPE_PERCPU_ARRAY,
		unix.BPF_MAP_TYPE_LRU_PERCPU_HASH, unix.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		return true
	}
	return false
}

// keyless reports whether the map has no keys (queues, stacks, bloom
// filters), so that get/put/del do not apply and push/pop/peek do.
func (m *bpfMap) keyless() bool {
	switch m.info.Type {
	case unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK, unix.BPF_MAP_TYPE_BLOOM_FILTER:
		return true
	}
	return false
}

// fdinfo reads a field ("frozen", "memlock") of the map's
// /proc/self/fdinfo entry, as bpftool does; "" when absent.
func (m *bpfMap) fdinfo(field string) string {
	raw, err := m.fd.Acquire()
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", raw))
	m.fd.Release()
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

// onBPFFS checks that path (or, when it does not exist, its directory) is
// on a bpf filesystem, where the kernel's own errors (EPERM, EACCES) would
// only confuse.
func onBPFFS(path string) error {
	var st unix.Statfs_t
	err := unix.Statfs(path, &st)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Statfs(filepath.Dir(path), &st); err == nil && st.Type == unix.BPF_FS_MAGIC {
			return fmt.Errorf("no such file")
		}
	}
	if err != nil {
		return err
	}
	if st.Type != unix.BPF_FS_MAGIC {
		return fmt.Errorf("not on a bpf filesystem (pins live under a bpf mount such as /sys/fs/bpf)")
	}
	return nil
}
