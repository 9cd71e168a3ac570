//go:build linux && s390x

package mapops

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmapAnonFixed puts size bytes of private anonymous memory at addr in
// place of whatever is mapped there, in one step. On s390x, mmap(2) takes
// one argument, the address of its six (the old_mmap convention); six
// arguments in registers are refused with EINVAL.
func mmapAnonFixed(addr, size uintptr) syscall.Errno {
	args := [6]uintptr{addr, size, unix.PROT_READ | unix.PROT_WRITE,
		unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_FIXED, ^uintptr(0), 0}
	_, _, e := unix.Syscall(unix.SYS_MMAP, uintptr(unsafe.Pointer(&args[0])), 0, 0)
	return e
}
