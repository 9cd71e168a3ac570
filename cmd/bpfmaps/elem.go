package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// cpuValues splits a value buffer into one value per CPU for per-CPU maps;
// for other maps it returns the buffer alone.
func (m *bpfMap) cpuValues(buf []byte) [][]byte {
	if !m.PerCPU() {
		return [][]byte{buf}
	}
	size, stride := m.ValueSize(), sys.ValueStride(m.ValueSize())
	var out [][]byte
	for off := 0; off+size <= len(buf); off += stride {
		out = append(out, buf[off:off+size])
	}
	return out
}

// lookup returns the value under key, one slice per CPU for per-CPU maps.
func (m *bpfMap) lookup(key []byte) ([][]byte, error) {
	buf := make([]byte, m.ValueBufferSize())
	if err := m.Lookup(key, buf); err != nil {
		return nil, err
	}
	return m.cpuValues(buf), nil
}

// update stores value under key; per-CPU maps get value on every CPU.
func (m *bpfMap) update(key, value []byte, flags mapops.Flags) error {
	if m.PerCPU() {
		return m.UpdatePerCPU(key, value, flags)
	}
	return m.Update(key, value, flags)
}

// entry is one key and its value (one per CPU for per-CPU maps).
type entry struct {
	key    []byte
	values [][]byte
}

// entries reads every entry through mapops' iterator, which uses the batch
// commands where the kernel has them and copes with keys deleted under it.
func (m *bpfMap) entries() ([]entry, error) {
	var out []entry
	all, errf := m.All()
	for k, v := range all {
		out = append(out, entry{append([]byte(nil), k...), m.cpuValues(append([]byte(nil), v...))})
	}
	if err := errf(); err != nil {
		return nil, m.wrap("dump", err)
	}
	return out, nil
}

// isEmpty reports whether err says a queue or stack is empty.
func isEmpty(err error) bool { return errors.Is(err, sys.ErrEmpty) }

// mapTypeArena is BPF_MAP_TYPE_ARENA (Linux 6.9), which x/sys/unix lacks.
const mapTypeArena = 33

// unreadable says, for the map types whose elements user space cannot
// read one by one on any kernel, why, and what reads them instead.
var unreadable = map[uint32]string{
	unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY: "its elements are perf event descriptors, which the kernel never returns to user space; " +
		"read the events that programs send through it with a perf event reader (perf_event_open and mmap on each CPU, as bpftool map event_pipe does)",
	unix.BPF_MAP_TYPE_CGROUP_ARRAY: "its elements are cgroup descriptors, which the kernel never returns to user space",
	unix.BPF_MAP_TYPE_XSKMAP: "its elements are AF_XDP socket descriptors, which the kernel never returns to user space; " +
		"the packets arrive on the sockets themselves",
	unix.BPF_MAP_TYPE_RINGBUF: "a ring buffer holds records, not elements: use bpfmaps tail",
	unix.BPF_MAP_TYPE_USER_RINGBUF: "a user ring buffer carries records from user space to BPF programs, which drain it: " +
		"there is nothing to read (write to it with the userringbuf package)",
	mapTypeArena:                    "an arena is memory shared with programs, not elements: map it into memory with mmap",
	unix.BPF_MAP_TYPE_SK_STORAGE:    storageKeys("socket descriptors"),
	unix.BPF_MAP_TYPE_INODE_STORAGE: storageKeys("file descriptors"),
	unix.BPF_MAP_TYPE_TASK_STORAGE:  storageKeys("pidfds"),
	unix.BPF_MAP_TYPE_CGRP_STORAGE:  storageKeys("cgroup directory descriptors"),
}

// readable fails for the map types whose elements cannot be read one by
// one, saying what to use instead; op is the command ("dump", "get").
func (m *bpfMap) readable(op string) error {
	if why, ok := unreadable[m.info.Type]; ok {
		return fmt.Errorf("%s: %s: %s cannot be read element by element: %s", m, op, m.aType(), why)
	}
	return nil
}

func storageKeys(what string) string {
	return "its keys are " + what + ", which only the process that holds them can name (and the kernel cannot walk them): " +
		"look entries up from that process, with the descriptor as the key, or read them from a BPF program"
}

// fdValued are the map types whose values are descriptors of the process
// that stores them: put cannot store them from the command line.
var fdValued = map[uint32]string{
	unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY:    "perf event",
	unix.BPF_MAP_TYPE_CGROUP_ARRAY:        "cgroup",
	unix.BPF_MAP_TYPE_XSKMAP:              "AF_XDP socket",
	unix.BPF_MAP_TYPE_PROG_ARRAY:          "program",
	unix.BPF_MAP_TYPE_ARRAY_OF_MAPS:       "map",
	unix.BPF_MAP_TYPE_HASH_OF_MAPS:        "map",
	unix.BPF_MAP_TYPE_SOCKMAP:             "socket",
	unix.BPF_MAP_TYPE_SOCKHASH:            "socket",
	unix.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: "socket",
}

// writable fails for the map types whose values are descriptors.
func (m *bpfMap) writable(op string) error {
	if what, ok := fdValued[m.info.Type]; ok {
		return fmt.Errorf("%s: %s: the values of %s are %s descriptors of the process that stores them, "+
			"which bpfmaps does not have: store them from the program that opened them", m, op, m.aType(), what)
	}
	return nil
}
