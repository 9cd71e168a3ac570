//go:build linux && !s390x

package mapops

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// mmapAnonFixed puts size bytes of private anonymous memory at addr in
// place of whatever is mapped there, in one step. It is the raw call, with
// the address as an integer: the address lies in the Go heap, and turning
// it into a pointer is what checkptr refuses.
func mmapAnonFixed(addr, size uintptr) syscall.Errno {
	_, _, e := unix.Syscall6(unix.SYS_MMAP, addr, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0)
	return e
}
