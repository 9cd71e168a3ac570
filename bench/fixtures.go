package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// recordSizes are the payload sizes of the kernel ring rows.
var recordSizes = []int{8, 64, 1024}

// userSampleSize is the payload of the user ring rows.
const userSampleSize = 64

// kernelRing is a BPF_MAP_TYPE_RINGBUF with one fill program per record
// size. Each consumer peer gets a ring of its own, created and filled the
// same way: bpfmaps' and cilium/ebpf's readers keep their own copy of the
// consumer position, so two readers of one ring would step on each other.
type kernelRing struct {
	m     *mapops.Map
	fills map[int]*sys.FD
}

// userRing is a BPF_MAP_TYPE_USER_RINGBUF with its drain program; one per
// producer peer for the same reason.
type userRing struct {
	m     *mapops.Map
	drain *sys.FD
}

type fixtures struct {
	cfg                      config
	hash, flow, percpu, walk *mapops.Map
	rings                    map[string]*kernelRing
	userRings                map[string]*userRing
	closers                  []func() error
}

// flowKey and flowStats are a 40-byte key and a 32-byte value without
// padding, so that every peer can hand their memory to the kernel as is.
type flowKey struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Proto, Flags     uint8
	Zone             uint16
}

type flowStats struct {
	Packets, Bytes      uint64
	FirstSeen, LastSeen uint32
	Flags               uint64
}

func newFixtures(cfg config) (*fixtures, error) {
	fx := &fixtures{cfg: cfg, rings: map[string]*kernelRing{}, userRings: map[string]*userRing{}}
	if err := fx.create(); err != nil {
		fx.close()
		return nil, err
	}
	return fx, nil
}

func (fx *fixtures) create() error {
	var err error
	cfg := fx.cfg
	create := func(spec mapops.Spec) (*mapops.Map, error) {
		m, err := mapops.Create(spec)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", spec.Name, err)
		}
		fx.closers = append(fx.closers, m.Close)
		return m, nil
	}
	if fx.hash, err = create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16, Name: "bench_u32"}); err != nil {
		return err
	}
	if err := typedOf[uint32, uint64](fx.hash).Update(1, 2, mapops.Any); err != nil {
		return err
	}
	if fx.flow, err = create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 40, ValueSize: 32, MaxEntries: 16, Name: "bench_flow"}); err != nil {
		return err
	}
	if err := typedOf[flowKey, flowStats](fx.flow).Update(theFlow(), flowStats{Packets: 1, Bytes: 1500}, mapops.Any); err != nil {
		return err
	}
	if fx.percpu, err = create(mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16, Name: "bench_percpu"}); err != nil {
		return err
	}
	pc := typedOf[uint32, uint64](fx.percpu)
	if err := pc.UpdatePerCPU(1, make([]uint64, pc.PossibleCPUs()), mapops.Any); err != nil {
		return err
	}
	n := cfg.walkEntry
	if fx.walk, err = create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: uint32(n), Name: "bench_walk"}); err != nil {
		return err
	}
	keys, vals := make([]uint32, n), make([]uint64, n)
	for i := range keys {
		keys[i], vals[i] = uint32(i), uint64(i)
	}
	if _, err := typedOf[uint32, uint64](fx.walk).BatchUpdate(keys, vals, mapops.Any); err != nil {
		return err
	}

	for _, p := range []string{floor, bpfmaps, cilium, libbpf} {
		m, err := create(mapops.Spec{Type: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: uint32(cfg.ringSize), Name: "bench_ring"})
		if err != nil {
			return err
		}
		r := &kernelRing{m: m, fills: map[int]*sys.FD{}}
		for _, size := range recordSizes {
			prog, err := newRingFill(m.FD(), size)
			if err != nil {
				return err
			}
			fx.closers = append(fx.closers, prog.Close)
			r.fills[size] = prog
		}
		fx.rings[p] = r
	}
	if err := sys.HaveUserRingBuf(); err != nil {
		return fmt.Errorf("user ring rows: %w", err)
	}
	for _, p := range []string{floor, bpfmaps, libbpf} {
		m, err := create(mapops.Spec{Type: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: uint32(cfg.userRing), Name: "bench_uring"})
		if err != nil {
			return err
		}
		prog, err := newUserRingDrain(m.FD())
		if err != nil {
			return err
		}
		fx.closers = append(fx.closers, prog.Close)
		fx.userRings[p] = &userRing{m: m, drain: prog}
	}
	return nil
}

func (fx *fixtures) close() {
	for i := len(fx.closers) - 1; i >= 0; i-- {
		fx.closers[i]()
	}
}

// theFlow is the one key of the flow map.
func theFlow() flowKey {
	k := flowKey{SrcPort: 443, DstPort: 50000, Proto: 6}
	k.Src[15], k.Dst[15] = 1, 2
	return k
}

func typedOf[K, V any](m *mapops.Map) *mapops.Typed[K, V] {
	t, err := mapops.NewTyped[K, V](m)
	if err != nil {
		panic(err) // the sizes are the fixtures' own
	}
	return t
}

// recordBytes is the room a record of size bytes takes in a ring.
func recordBytes(size int) int { return (size + 8 + 7) &^ 7 }

// recordsPerFill is how many records of size bytes a fill writes: the
// kernel refuses a record that would make the ring completely full.
func (fx *fixtures) recordsPerFill(size int) int {
	return fx.cfg.ringSize/recordBytes(size) - 1
}

// userSamples is how many 64-byte samples a producer writes per sample
// run, with some room to spare.
func (fx *fixtures) userSamples() int {
	return fx.cfg.userRing/recordBytes(userSampleSize) - 64
}

// cFiles returns duplicates of the descriptors the libbpf peer works on,
// in the order libbpf/peer.c expects them (3, 4, …): the four maps, its kernel
// ring and fill programs by record size, its user ring and drain program.
func (fx *fixtures) cFiles() ([]*os.File, error) {
	kr, ur := fx.rings[libbpf], fx.userRings[libbpf]
	fds := []*sys.FD{fx.hash.FD(), fx.flow.FD(), fx.percpu.FD(), fx.walk.FD(), kr.m.FD()}
	for _, size := range recordSizes {
		fds = append(fds, kr.fills[size])
	}
	fds = append(fds, ur.m.FD(), ur.drain)
	var files []*os.File
	for _, fd := range fds {
		d, err := unix.Dup(fd.Int())
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("dup: %w", err)
		}
		files = append(files, os.NewFile(uintptr(d), fd.String()))
	}
	return files, nil
}
