package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	ciliumringbuf "github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/ringbuf"
	"github.com/bpfmaps/bpfmaps/sys"
	"github.com/bpfmaps/bpfmaps/userringbuf"
)

// elemAttr is the element part of union bpf_attr, for the floor's raw
// calls; unsafe.Pointer keeps key and value alive.
type elemAttr struct {
	mapFD uint32
	_     uint32
	key   unsafe.Pointer
	value unsafe.Pointer
	flags uint64
}

// batchAttr is the batch part of union bpf_attr.
type batchAttr struct {
	inBatch, outBatch, keys, values unsafe.Pointer
	count, mapFD                    uint32
	elemFlags, flags                uint64
}

func rawBPF(cmd uintptr, attr unsafe.Pointer, size uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size); errno != 0 {
		return errno
	}
	return nil
}

// rawOp is one hand-written bpf(2) call of cmd on m through a
// preallocated attribute: the floor of the map rows.
func rawOp(m *mapops.Map, cmd uintptr, key, value unsafe.Pointer, flags uint64) func() error {
	attr := &elemAttr{mapFD: uint32(m.FD().Int()), key: key, value: value, flags: flags}
	return func() error { return rawBPF(cmd, unsafe.Pointer(attr), unsafe.Sizeof(*attr)) }
}

// times returns a run that calls op n times.
func times(n int, op func() error) func() (int, error) {
	return func() (int, error) {
		for range n {
			if err := op(); err != nil {
				return 0, err
			}
		}
		return n, nil
	}
}

// ciliumMap opens m again as a cilium/ebpf Map, on a duplicate descriptor.
func ciliumMap(m *mapops.Map) (*ebpf.Map, error) {
	d, err := unix.Dup(m.FD().Int())
	if err != nil {
		return nil, err
	}
	cm, err := ebpf.NewMapFromFD(d)
	if err != nil {
		unix.Close(d)
		return nil, fmt.Errorf("cilium/ebpf: %w", err)
	}
	return cm, nil
}

// benches returns every Go bench, grouped by row in table order.
func (fx *fixtures) benches() ([]bench, error) {
	var bs []bench
	add := func(row, peer string, prep func() error, run func() (int, error)) {
		bs = append(bs, bench{row: row, peer: peer, prep: prep, run: run})
	}
	n := fx.cfg.ops
	addOp := func(row, peer string, op func() error) {
		bs = append(bs, bench{row: row, peer: peer, run: times(n, op), op: op})
	}
	cms := map[*mapops.Map]*ebpf.Map{}
	for _, m := range []*mapops.Map{fx.hash, fx.flow, fx.percpu, fx.walk} {
		cm, err := ciliumMap(m)
		if err != nil {
			return nil, err
		}
		fx.closers = append(fx.closers, cm.Close)
		cms[m] = cm
	}

	// hash lookup and update, u32 → u64
	{
		t := typedOf[uint32, uint64](fx.hash)
		cm := cms[fx.hash]
		key, val := new(uint32), new(uint64)
		*key = 1
		addOp("lookup_u32", floor, rawOp(fx.hash, unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(key), unsafe.Pointer(val), 0))
		addOp("lookup_u32", bpfmaps, func() error { _, err := t.Lookup(1); return err })
		addOp("lookup_u32", cilium, func() error { return cm.Lookup(key, val) })
		ukey, uval := new(uint32), new(uint64)
		*ukey, *uval = 1, 3
		addOp("update_u32", floor, rawOp(fx.hash, unix.BPF_MAP_UPDATE_ELEM, unsafe.Pointer(ukey), unsafe.Pointer(uval), unix.BPF_ANY))
		addOp("update_u32", bpfmaps, func() error { return t.Update(1, 3, mapops.Any) })
		addOp("update_u32", cilium, func() error { return cm.Update(ukey, uval, ebpf.UpdateAny) })
	}
	// 40-byte struct key
	{
		t := typedOf[flowKey, flowStats](fx.flow)
		cm := cms[fx.flow]
		key, val := new(flowKey), new(flowStats)
		*key = theFlow()
		addOp("lookup_struct", floor, rawOp(fx.flow, unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(key), unsafe.Pointer(val), 0))
		bv := new(flowStats)
		addOp("lookup_struct", bpfmaps, func() error { return t.LookupInto(theFlow(), bv) })
		cv := new(flowStats)
		addOp("lookup_struct", cilium, func() error { return cm.Lookup(key, cv) })
	}
	// per-CPU lookup
	{
		t := typedOf[uint32, uint64](fx.percpu)
		cm := cms[fx.percpu]
		key := new(uint32)
		*key = 1
		size, err := sys.PerCPUValueSize(8)
		if err != nil {
			return nil, err
		}
		raw := make([]byte, size)
		addOp("lookup_percpu", floor, rawOp(fx.percpu, unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(key), unsafe.Pointer(&raw[0]), 0))
		bv := make([]uint64, t.PossibleCPUs())
		addOp("lookup_percpu", bpfmaps, func() error { return t.LookupPerCPU(1, bv) })
		cv := make([]uint64, t.PossibleCPUs())
		addOp("lookup_percpu", cilium, func() error { return cm.Lookup(key, cv) })
	}
	fx.walkBenches(add, cms[fx.walk])
	if err := fx.ringBenches(add); err != nil {
		return nil, err
	}
	if err := fx.userRingBenches(add); err != nil {
		return nil, err
	}
	if err := btfBenches(add); err != nil {
		return nil, err
	}
	return bs, nil
}

type addFunc func(row, peer string, prep func() error, run func() (int, error))

// walkBenches: a full walk of the walk map, by iteration and by batches of
// batchSize; the unit is one walk.
func (fx *fixtures) walkBenches(add addFunc, cm *ebpf.Map) {
	const batchSize = 4096
	want := fx.cfg.walkEntry
	check := func(count int, err error) (int, error) {
		if err == nil && count != want {
			err = fmt.Errorf("walked %d entries, want %d", count, want)
		}
		return 1, err
	}
	t := typedOf[uint32, uint64](fx.walk)
	fd := uint32(fx.walk.FD().Int())

	// The floor of iteration: get_next_key and a lookup per key.
	var key, next uint32
	var val uint64
	nextAttr := &elemAttr{mapFD: fd, value: unsafe.Pointer(&next)}
	lookupAttr := &elemAttr{mapFD: fd, key: unsafe.Pointer(&key), value: unsafe.Pointer(&val)}
	add("walk_iter", floor, nil, func() (int, error) {
		count := 0
		nextAttr.key = nil
		for {
			if err := rawBPF(unix.BPF_MAP_GET_NEXT_KEY, unsafe.Pointer(nextAttr), unsafe.Sizeof(*nextAttr)); err != nil {
				if err == unix.ENOENT {
					break
				}
				return 0, err
			}
			key = next
			nextAttr.key = unsafe.Pointer(&key)
			if err := rawBPF(unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(lookupAttr), unsafe.Sizeof(*lookupAttr)); err != nil {
				return 0, err
			}
			count++
		}
		return check(count, nil)
	})
	add("walk_iter", bpfmaps, nil, func() (int, error) {
		count := 0
		all, errf := t.All()
		for range all {
			count++
		}
		return check(count, errf())
	})
	add("walk_iter", cilium, nil, func() (int, error) {
		count := 0
		var k uint32
		var v uint64
		it := cm.Iterate()
		for it.Next(&k, &v) {
			count++
		}
		return check(count, it.Err())
	})

	// The floor of batches: BPF_MAP_LOOKUP_BATCH into reused buffers.
	rawKeys, rawVals := make([]uint32, batchSize), make([]uint64, batchSize)
	var token uint32
	battr := &batchAttr{outBatch: unsafe.Pointer(&token), keys: unsafe.Pointer(&rawKeys[0]), values: unsafe.Pointer(&rawVals[0]), mapFD: fd}
	add("walk_batch", floor, nil, func() (int, error) {
		count := 0
		battr.inBatch = nil
		for {
			battr.count = batchSize
			err := rawBPF(unix.BPF_MAP_LOOKUP_BATCH, unsafe.Pointer(battr), unsafe.Sizeof(*battr))
			if err != nil && err != unix.ENOENT {
				return 0, err
			}
			count += int(battr.count)
			if err == unix.ENOENT {
				break
			}
			battr.inBatch = unsafe.Pointer(&token)
		}
		return check(count, nil)
	})
	bkeys, bvals := make([]uint32, 0, batchSize), make([]uint64, 0, batchSize)
	add("walk_batch", bpfmaps, nil, func() (int, error) {
		count := 0
		var c mapops.Cursor
		for !c.Done() {
			var err error
			bkeys, bvals, err = t.BatchLookup(&c, bkeys[:0], bvals[:0], batchSize)
			if err != nil {
				return 0, err
			}
			count += len(bkeys)
		}
		return check(count, nil)
	})
	ckeys, cvals := make([]uint32, batchSize), make([]uint64, batchSize)
	add("walk_batch", cilium, nil, func() (int, error) {
		count := 0
		var c ebpf.MapBatchCursor
		for {
			n, err := cm.BatchLookup(&c, ckeys, cvals, nil)
			count += n
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				break
			}
			if err != nil {
				return 0, err
			}
		}
		return check(count, nil)
	})
}

// rawRing is the floor's own mapping of a kernel ring: the consumer page
// read-write, the producer page and the data area (mapped twice by the
// kernel) read-only.
type rawRing struct {
	cons, prod *uint64
	data       unsafe.Pointer
	mask       uint64
}

func mapRawRing(m *mapops.Map, writeData bool) (*rawRing, func() error, error) {
	page := os.Getpagesize()
	size := int(m.MaxEntries())
	fd := m.FD().Int()
	consProt, dataProt := unix.PROT_READ|unix.PROT_WRITE, unix.PROT_READ
	if writeData { // a user ring: the kernel consumes, we produce
		consProt, dataProt = unix.PROT_READ, unix.PROT_READ|unix.PROT_WRITE
	}
	cons, err := unix.Mmap(fd, 0, page, consProt, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map consumer page: %w", err)
	}
	data, err := unix.Mmap(fd, int64(page), page+2*size, dataProt, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(cons)
		return nil, nil, fmt.Errorf("map ring data: %w", err)
	}
	r := &rawRing{
		cons: (*uint64)(unsafe.Pointer(&cons[0])),
		prod: (*uint64)(unsafe.Pointer(&data[0])),
		data: unsafe.Pointer(&data[page]),
		mask: uint64(size - 1),
	}
	return r, func() error { return errors.Join(unix.Munmap(data), unix.Munmap(cons)) }, nil
}

func (r *rawRing) avail() int { return int(atomic.LoadUint64(r.prod) - atomic.LoadUint64(r.cons)) }

// drain is the floor of a consumer: load each record's length word, step
// over the record (copying its payload into buf when copying), publish the
// consumer position once.
func (r *rawRing) drain(buf []byte, copying bool) int {
	pos := atomic.LoadUint64(r.cons)
	end := atomic.LoadUint64(r.prod)
	n := 0
	for pos < end {
		word := ringproto.LoadWord(unsafe.Add(r.data, pos&r.mask))
		if copying {
			copy(buf, unsafe.Slice((*byte)(unsafe.Add(r.data, (pos+ringproto.HdrSize)&r.mask)), word.Len()))
		}
		pos += word.Total()
		n++
	}
	atomic.StoreUint64(r.cons, pos)
	return n
}

// ringBenches: consuming records of each size from a full 64 MiB ring that
// the kernel filled untimed; the unit is one record.
func (fx *fixtures) ringBenches(add addFunc) error {
	raw, unmap, err := mapRawRing(fx.rings[floor].m, false)
	if err != nil {
		return err
	}
	fx.closers = append(fx.closers, unmap)
	br, err := ringbuf.NewReader(fx.rings[bpfmaps].m)
	if err != nil {
		return err
	}
	fx.closers = append(fx.closers, br.Close)
	ccm, err := ciliumMap(fx.rings[cilium].m)
	if err != nil {
		return err
	}
	fx.closers = append(fx.closers, ccm.Close)
	cr, err := ciliumringbuf.NewReader(ccm)
	if err != nil {
		return fmt.Errorf("cilium/ebpf ringbuf: %w", err)
	}
	fx.closers = append(fx.closers, cr.Close)

	ctx := context.Background()
	var sum byte
	buf := make([]byte, 4096)
	var crec ciliumringbuf.Record
	for _, size := range recordSizes {
		// Each row reads into Records of its own, as a consumer of records
		// of that size would: Samples grown by a row of larger records
		// would spread the copies over more memory.
		recs := make([]ringbuf.Record, 64)
		want := fx.recordsPerFill(size)
		fill := func(peer string, avail func() int) func() error {
			prog := fx.rings[peer].fills[size]
			return func() error { return fillRing(prog, avail, recordBytes(size), want) }
		}
		expect := func(n int) (int, error) {
			if n != want {
				return 0, fmt.Errorf("drained %d records, want %d", n, want)
			}
			return n, nil
		}
		zero, cp := fmt.Sprintf("consume_%d", size), fmt.Sprintf("copy_%d", size)
		rawFill, bFill := fill(floor, raw.avail), fill(bpfmaps, br.AvailableBytes)
		add(zero, floor, rawFill, func() (int, error) { return expect(raw.drain(nil, false)) })
		add(zero, bpfmaps, bFill, func() (int, error) {
			n, err := br.Consume(func(s []byte) error { sum += s[0]; return nil })
			if err != nil {
				return 0, err
			}
			return expect(n)
		})
		add(cp, floor, rawFill, func() (int, error) { return expect(raw.drain(buf, true)) })
		add(cp, bpfmaps, bFill, func() (int, error) {
			for got := 0; got < want; {
				n, err := br.ReadBatch(ctx, recs[:min(len(recs), want-got)])
				if err != nil {
					return 0, err
				}
				got += n
			}
			return want, nil
		})
		add(cp, cilium, fill(cilium, cr.AvailableBytes), func() (int, error) {
			cr.SetDeadline(time.Now().Add(time.Minute)) // a failure, not a hang
			for i := range want {
				if err := cr.ReadInto(&crec); err != nil {
					return 0, fmt.Errorf("after %d of %d records (%d bytes left): %w", i, want, cr.AvailableBytes(), err)
				}
			}
			return want, nil
		})
	}
	return nil
}

// userRingBenches: a producer writing 64-byte samples into a 16 MiB user
// ring until it is nearly full, on a ring the kernel drained untimed; the
// unit is one sample.
func (fx *fixtures) userRingBenches(add addFunc) error {
	want := fx.userSamples()
	var src [userSampleSize]byte
	for i := range src {
		src[i] = byte(i)
	}
	drain := func(peer string) func() error {
		prog := fx.userRings[peer].drain
		return func() error { _, err := drainUserRing(prog); return err }
	}

	// The floor: libbpf's protocol written out in Go (plain stores, the
	// producer position published with a release store, the busy bit
	// cleared with an atomic exchange), not safe for concurrent use.
	raw, unmap, err := mapRawRing(fx.userRings[floor].m, true)
	if err != nil {
		return err
	}
	fx.closers = append(fx.closers, unmap)
	size := raw.mask + 1
	add("urb_single", floor, drain(floor), func() (int, error) {
		total := ringproto.Round8(userSampleSize + ringproto.HdrSize)
		for range want {
			cons := atomic.LoadUint64(raw.cons)
			prod := *raw.prod
			if size-(prod-cons) < total {
				return 0, unix.ENOSPC
			}
			hdr := (*uint64)(unsafe.Add(raw.data, prod&raw.mask))
			*hdr = ringproto.Header(ringproto.MakeWord(userSampleSize, ringproto.Busy), 0)
			atomic.StoreUint64(raw.prod, prod+total)
			copy(unsafe.Slice((*byte)(unsafe.Add(raw.data, (prod+ringproto.HdrSize)&raw.mask)), userSampleSize), src[:])
			ringproto.StoreWord(unsafe.Pointer(hdr), ringproto.MakeWord(userSampleSize, 0))
		}
		return want, nil
	})

	p, err := userringbuf.NewProducer(fx.userRings[bpfmaps].m)
	if err != nil {
		return err
	}
	fx.closers = append(fx.closers, p.Close)
	add("urb_single", bpfmaps, drain(bpfmaps), func() (int, error) {
		for range want {
			s, err := p.Reserve(userSampleSize)
			if err != nil {
				return 0, err
			}
			copy(s.Bytes(), src[:])
			if err := s.Submit(); err != nil {
				return 0, err
			}
		}
		return want, nil
	})
	return addBatchProducer(add, p, drain(bpfmaps), want, src[:])
}
