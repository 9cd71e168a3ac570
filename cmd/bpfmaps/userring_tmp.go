package main

// TEMPORARY: a minimal user ringbuf producer on sys, until package
// userringbuf lands.

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

type userRingWriter struct {
	cons, prod []byte
	size       uint64
}

func openUserRing(fd *sys.FD, size uint32) (*userRingWriter, error) {
	raw, err := fd.Acquire()
	if err != nil {
		return nil, err
	}
	defer fd.Release()
	page := os.Getpagesize()
	w := &userRingWriter{size: uint64(size)}
	if w.cons, err = unix.Mmap(raw, 0, page, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("mmap consumer page: %w", err)
	}
	if w.prod, err = unix.Mmap(raw, int64(page), page+2*int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		unix.Munmap(w.cons)
		return nil, fmt.Errorf("mmap data: %w", err)
	}
	return w, nil
}

func (w *userRingWriter) Close() error {
	unix.Munmap(w.cons)
	return unix.Munmap(w.prod)
}

func (w *userRingWriter) Write(p []byte) error {
	total := (uint64(len(p)) + unix.BPF_RINGBUF_HDR_SZ + 7) &^ 7
	cons := atomic.LoadUint64((*uint64)(unsafe.Pointer(&w.cons[0])))
	prodPtr := (*uint64)(unsafe.Pointer(&w.prod[0]))
	prod := atomic.LoadUint64(prodPtr)
	if w.size-(prod-cons) < total {
		return fmt.Errorf("user ringbuf write: %w", unix.ENOSPC)
	}
	data := w.prod[os.Getpagesize():]
	off := prod & (w.size - 1)
	hdr := (*uint32)(unsafe.Pointer(&data[off]))
	atomic.StoreUint32(hdr, uint32(len(p))|unix.BPF_RINGBUF_BUSY_BIT)
	atomic.StoreUint64(prodPtr, prod+total)
	copy(data[off+unix.BPF_RINGBUF_HDR_SZ:], p)
	atomic.StoreUint32(hdr, uint32(len(p)))
	return nil
}
