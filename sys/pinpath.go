package sys

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// onBPFFS is the hint every error about a path off a bpf filesystem ends with.
const onBPFFS = "pins live under a bpf mount such as /sys/fs/bpf"

// checkPinPath looks at path with statfs before op (OpObjGet or OpObjPin)
// hands it to the kernel, whose answers for a path of the wrong kind (EACCES
// for a regular file or a directory, EPERM for a pin off a bpf filesystem)
// read like missing privileges. It returns the *Error the kernel would
// fail with, carrying the real reason, or nil when the path may be right,
// or when statfs cannot tell (the system call then reports what it finds).
func checkPinPath(op Op, path string) *Error {
	var st unix.Statfs_t
	if op == OpObjPin {
		// The pin must not exist yet; its directory must be on bpffs.
		if unix.Statfs(filepath.Dir(path), &st) == nil && st.Type != unix.BPF_FS_MAGIC {
			return &Error{Op: op, Errno: unix.EPERM, reason: "operation not permitted: the directory is not on a bpf filesystem (" + onBPFFS + ")"}
		}
		return nil
	}
	err := unix.Statfs(path, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		if unix.Statfs(filepath.Dir(path), &st) == nil && st.Type != unix.BPF_FS_MAGIC {
			return &Error{Op: op, Errno: unix.ENOENT, reason: "no such file, and its directory is not on a bpf filesystem (" + onBPFFS + ")"}
		}
	case err != nil:
	case st.Type != unix.BPF_FS_MAGIC:
		return &Error{Op: op, Errno: unix.EACCES, reason: "not a pinned BPF object: the path is not on a bpf filesystem (" + onBPFFS + ")"}
	default:
		var s unix.Stat_t
		if unix.Stat(path, &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFDIR {
			return &Error{Op: op, Errno: unix.EACCES, reason: "not a pinned BPF object: the path is a directory of the bpf filesystem"}
		}
	}
	return nil
}

// accessDenied says which part of path keeps this user from op (OpObjGet
// with flags, or OpObjPin) after the kernel answered EACCES: a directory
// on the way it may not enter, the directory a pin goes in that it may not
// write, or the pin itself that it may not open with flags. Pins live in
// directories that loaders make 0700, so the pin's own mode is often not
// the cause. It returns nil when it cannot tell.
func accessDenied(op Op, path string, flags uint32) *Error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	deny := func(format string, args ...any) *Error {
		return &Error{Op: op, Errno: unix.EACCES, reason: "permission denied: " + fmt.Sprintf(format, args...)}
	}
	dir := filepath.Dir(abs)
	// Every directory from the root down to dir must be searchable.
	var dirs []string
	for d := dir; ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == "/" || d == "." {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if unix.Faccessat(unix.AT_FDCWD, dirs[i], unix.X_OK, unix.AT_EACCESS) == unix.EACCES {
			return deny("this user may not enter the directory %s (%s)", dirs[i], modeOf(dirs[i]))
		}
	}
	if op == OpObjPin {
		if unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK, unix.AT_EACCESS) == unix.EACCES {
			return deny("this user may not create files in the directory %s (%s)", dir, modeOf(dir))
		}
		return nil
	}
	mode, want := uint32(unix.R_OK|unix.W_OK), "reading and writing (BPF_F_RDONLY opens for reading only)"
	switch flags & (unix.BPF_F_RDONLY | unix.BPF_F_WRONLY) {
	case unix.BPF_F_RDONLY:
		mode, want = unix.R_OK, "reading"
	case unix.BPF_F_WRONLY:
		mode, want = unix.W_OK, "writing"
	}
	if unix.Faccessat(unix.AT_FDCWD, abs, mode, unix.AT_EACCESS) == unix.EACCES {
		return deny("the pin's owner and mode (%s) do not let this user open it for %s", modeOf(abs), want)
	}
	return nil
}

// modeOf describes the owner and mode of path for an error: "mode 0700,
// owner 0:0".
func modeOf(path string) string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return "mode unknown"
	}
	return fmt.Sprintf("mode %04o, owner %d:%d", st.Mode&0o7777, st.Uid, st.Gid)
}
