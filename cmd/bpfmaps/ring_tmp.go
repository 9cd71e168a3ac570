package main

// TEMPORARY: a minimal ringbuf consumer on sys, until package ringbuf lands.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

type ringReader struct {
	fd         *sys.FD
	epfd       int
	cons, prod []byte
	size       uint64
}

func openRing(ring *sys.FD, size uint32) (*ringReader, error) {
	fd, err := ring.Dup()
	if err != nil {
		return nil, err
	}
	r := &ringReader{fd: fd, epfd: -1, size: uint64(size)}
	raw, err := fd.Acquire()
	if err != nil {
		fd.Close()
		return nil, err
	}
	defer fd.Release()
	page := os.Getpagesize()
	if r.cons, err = unix.Mmap(raw, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		r.Close()
		return nil, fmt.Errorf("mmap consumer page: %w", err)
	}
	if r.prod, err = unix.Mmap(raw, int64(page), page+2*int(r.size), unix.PROT_READ, unix.MAP_SHARED); err != nil {
		r.Close()
		return nil, fmt.Errorf("mmap data: %w", err)
	}
	if r.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		r.Close()
		return nil, err
	}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, raw, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *ringReader) Close() error {
	if r.epfd >= 0 {
		unix.Close(r.epfd)
	}
	if r.cons != nil {
		unix.Munmap(r.cons)
	}
	if r.prod != nil {
		unix.Munmap(r.prod)
	}
	return r.fd.Close()
}

func (r *ringReader) Read(ctx context.Context) ([]byte, error) {
	for {
		rec, err := r.next()
		if rec != nil || err != nil {
			return rec, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		events := make([]unix.EpollEvent, 1)
		if _, err := unix.EpollWait(r.epfd, events, int(50*time.Millisecond/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
			return nil, err
		}
	}
}

func (r *ringReader) next() ([]byte, error) {
	consPtr := (*uint64)(unsafe.Pointer(&r.cons[0]))
	cons := atomic.LoadUint64(consPtr)
	page := os.Getpagesize()
	data := r.prod[page:]
	for {
		prod := atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.prod[0])))
		if cons >= prod {
			return nil, nil
		}
		off := cons & (r.size - 1)
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&data[off])))
		if hdr&unix.BPF_RINGBUF_BUSY_BIT != 0 {
			return nil, nil
		}
		n := uint64(hdr &^ (unix.BPF_RINGBUF_BUSY_BIT | unix.BPF_RINGBUF_DISCARD_BIT))
		total := (n + unix.BPF_RINGBUF_HDR_SZ + 7) &^ 7
		if cons+total > prod {
			return nil, fmt.Errorf("corrupt ring: record of %d bytes at position %d passes the producer at %d", n, cons, prod)
		}
		var rec []byte
		if hdr&unix.BPF_RINGBUF_DISCARD_BIT == 0 {
			rec = append([]byte(nil), data[off+unix.BPF_RINGBUF_HDR_SZ:off+unix.BPF_RINGBUF_HDR_SZ+n]...)
		}
		cons += total
		atomic.StoreUint64(consPtr, cons)
		if rec != nil {
			return rec, nil
		}
	}
}
