package sys_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// wantErr fails the test unless err wraps errno and its text holds every
// one of want and none of notWant.
func wantErr(t *testing.T, what string, err error, errno unix.Errno, want []string, notWant ...string) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: %v, want %v", what, err, errno)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q does not say %q", what, err, w)
		}
	}
	for _, w := range notWant {
		if strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q blames %q", what, err, w)
		}
	}
}

// TestEPERMSaysWhy explains each EPERM by what it means for the operation:
// a write to a frozen or read-only map, a read through a write-only
// descriptor, a pin off a bpf filesystem; only the privileged commands
// blame a missing capability.
func TestEPERMSaysWhy(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0)
	key, val := uint32(0), uint64(1)
	info, err := sys.MapGetInfo(m)
	if err != nil {
		t.Fatal(err)
	}

	ro, err := sys.MapGetFDByID(info.ID, unix.BPF_F_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, ro)
	wantErr(t, "update through a read-only descriptor", sys.MapUpdateElem(ro, ptr(&key), ptr(&val), unix.BPF_ANY),
		unix.EPERM, []string{"map update: ", "read-only"}, "CAP_BPF")
	wo, err := sys.MapGetFDByID(info.ID, unix.BPF_F_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, wo)
	wantErr(t, "lookup through a write-only descriptor", sys.MapLookupElem(wo, ptr(&key), ptr(&val), 0),
		unix.EPERM, []string{"map lookup: ", "write-only"}, "CAP_BPF")

	if err := sys.MapFreeze(m); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "update of a frozen map", sys.MapUpdateElem(m, ptr(&key), ptr(&val), unix.BPF_ANY),
		unix.EPERM, []string{"map update: ", "frozen"}, "CAP_BPF")

	wantErr(t, "pin outside a bpf filesystem", sys.ObjPin(m, filepath.Join(t.TempDir(), "pin")),
		unix.EPERM, []string{"object pin: ", "not on a bpf filesystem"}, "CAP_BPF")

	// Without privilege the kernel refuses create; its EPERM says so.
	denied := &sys.Error{Op: sys.OpMapCreate, Errno: unix.EPERM}
	wantErr(t, "create without privilege", denied, unix.EPERM, []string{"map create: ", "CAP_BPF"})
}

// TestObjGetNotAPin says "not a pinned BPF object" for a path that cannot
// hold one (a regular file elsewhere, the bpf filesystem's root), where the
// kernel's EACCES would read like a permission problem, and keeps EACCES
// for errors.Is.
func TestObjGetNotAPin(t *testing.T) {
	testutil.CheckLeaks(t)
	// Off a bpf filesystem statfs decides, before the system call, so this
	// part needs no privilege.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("not a map"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sys.ObjGet(file, 0)
	wantErr(t, "open a regular file", err, unix.EACCES, []string{"object get: ", "not a pinned BPF object"}, "frozen", "verifier")
	_, err = sys.ObjGet(filepath.Join(t.TempDir(), "gone"), 0)
	wantErr(t, "open a missing file off bpffs", err, unix.ENOENT, []string{"object get: ", "not on a bpf filesystem"})

	fs := testutil.BPFFS(t)
	_, err = sys.ObjGet(fs, 0)
	wantErr(t, "open the bpffs root", err, unix.EACCES, []string{"object get: ", "not a pinned BPF object"}, "frozen", "verifier")
	_, err = sys.ObjGet(filepath.Join(fs, "gone"), 0)
	wantErr(t, "open a missing pin", err, unix.ENOENT, []string{"object get: no such file"}, "not on a bpf filesystem")
}

// TestEPERMNamesTheCapability: the EPERM of each privileged command names
// the capability it really needs. With CAP_BPF a process creates maps, but
// walking ids and opening maps and BTF by id needs CAP_SYS_ADMIN; without
// any capability, creating a map needs CAP_BPF.
func TestEPERMNamesTheCapability(t *testing.T) {
	caps, child := testutil.AsUser()
	if !child {
		testutil.RunAsUser(t, "bpf")
		testutil.RunAsUser(t, "")
		return
	}
	testutil.CheckLeaks(t)
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	fd, err := sys.MapCreate(&attr)
	if caps == "" {
		wantErr(t, "create without capabilities", err, unix.EPERM, []string{"map create: ", "needs CAP_BPF"})
		return
	}
	if err != nil {
		t.Fatalf("create with CAP_BPF: %v", err)
	}
	defer fd.Close()
	info, err := sys.MapGetInfo(fd)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sys.MapGetNextID(0)
	wantErr(t, "map next id with CAP_BPF", err, unix.EPERM, []string{"map next id: ", "needs CAP_SYS_ADMIN (CAP_BPF is not enough"}, "needs CAP_BPF")
	_, err = sys.MapGetFDByID(info.ID, 0)
	wantErr(t, "map fd by id with CAP_BPF", err, unix.EPERM, []string{"map fd by id: ", "needs CAP_SYS_ADMIN"}, "needs CAP_BPF")
	_, err = sys.BTFGetNextID(0)
	wantErr(t, "btf next id with CAP_BPF", err, unix.EPERM, []string{"btf next id: ", "needs CAP_SYS_ADMIN"}, "needs CAP_BPF")
	_, err = sys.BTFGetFDByID(1)
	wantErr(t, "btf fd by id with CAP_BPF", err, unix.EPERM, []string{"btf fd by id: ", "needs CAP_SYS_ADMIN"}, "needs CAP_BPF")
}

// TestFreezeTwiceSaysFrozen: the kernel treats every descriptor of a
// frozen map as read-only, so a second freeze through a read-write
// descriptor fails with EPERM; the error says the map is frozen, and keeps
// "opened read-only" for descriptors that were.
func TestFreezeTwiceSaysFrozen(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0)
	info, err := sys.MapGetInfo(m)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := sys.MapGetFDByID(info.ID, unix.BPF_F_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, ro)
	if err := sys.MapFreeze(ro); err == nil {
		// 5.10 and 6.1 let a read-only descriptor freeze a map; later kernels
		// refuse it with EPERM (the map's write permission is checked).
		var u unix.Utsname
		unix.Uname(&u)
		t.Logf("kernel %s froze the map through a read-only descriptor", unix.ByteSliceToString(u.Release[:]))
	} else {
		wantErr(t, "freeze through a read-only descriptor", err, unix.EPERM,
			[]string{"map freeze: ", "this descriptor was opened read-only"}, "frozen")
		if err := sys.MapFreeze(m); err != nil {
			t.Fatal(err)
		}
	}
	// A second freeze: EPERM on current kernels, EBUSY on 5.10 and 6.1.
	err = sys.MapFreeze(m)
	if !errors.Is(err, unix.EBUSY) {
		wantErr(t, "second freeze", err, unix.EPERM,
			[]string{"map freeze: ", "the map is already frozen"}, "read-only")
	} else if !strings.Contains(err.Error(), "the map is already frozen") {
		t.Errorf("second freeze: %q does not say the map is already frozen", err)
	}
}

// TestPinAccessNamesTheCause: when the kernel answers EACCES for a pin,
// the error names what keeps the user out: a directory on the way it may
// not enter (loaders make pin directories 0700), the directory it may not
// write a pin into, or the pin's own owner and mode.
func TestPinAccessNamesTheCause(t *testing.T) {
	if _, child := testutil.AsUser(); child {
		testutil.CheckLeaks(t)
		locked, private, readOnly := os.Getenv("PIN_LOCKED"), os.Getenv("PIN_PRIVATE"), os.Getenv("PIN_READONLY_DIR")
		_, err := sys.ObjGet(filepath.Join(locked, "m"), 0)
		wantErr(t, "open a pin in a 0700 directory", err, unix.EACCES,
			[]string{"object get: ", "may not enter the directory " + locked + " (mode 0700, owner 0:0)"}, "pin's owner")
		_, err = sys.ObjGet(private, unix.BPF_F_RDONLY)
		wantErr(t, "open a 0600 pin", err, unix.EACCES,
			[]string{"object get: ", "the pin's owner and mode (mode 0600, owner 0:0) do not let this user open it for reading"}, "directory")
		m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0)
		err = sys.ObjPin(m, filepath.Join(readOnly, "new"))
		wantErr(t, "pin into a directory of root's", err, unix.EACCES,
			[]string{"object pin: ", "may not create files in the directory " + readOnly + " (mode 0755, owner 0:0)"}, "read-only", "frozen")
		return
	}
	testutil.CheckLeaks(t)
	fs := testutil.BPFFS(t)
	// Let nobody reach the bpf filesystem: the test's directories are 0700.
	for _, d := range []string{filepath.Dir(fs), fs} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0)
	locked, readOnly := filepath.Join(fs, "locked"), filepath.Join(fs, "ro")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(readOnly, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := sys.ObjPin(m, filepath.Join(locked, "m")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(locked, "m"), 0o666); err != nil { // the pin itself is open to all
		t.Fatal(err)
	}
	private := filepath.Join(readOnly, "private")
	if err := sys.ObjPin(m, private); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(private, 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.RunAsUser(t, "bpf", "PIN_LOCKED="+locked, "PIN_PRIVATE="+private, "PIN_READONLY_DIR="+readOnly)
}

// TestOpErrorNamesTheOperationOnce: the one error shape reads "object:
// operation: reason", says a bpf(2) command again only when it adds
// something, and lets errors.Is see the sentinels and the errno through it.
func TestOpErrorNamesTheOperationOnce(t *testing.T) {
	const obj = `map 12 "counts" (hash)`
	for _, c := range []struct {
		err      error
		want     string
		sentinel error
	}{
		{&sys.OpError{Object: obj, Op: "lookup", Err: &sys.Error{Op: sys.OpMapLookup, Errno: unix.ENOENT}},
			obj + ": lookup: key does not exist", sys.ErrKeyNotExist},
		{&sys.OpError{Object: obj, Op: "update", Err: &sys.Error{Op: sys.OpMapUpdate, Errno: unix.EEXIST}},
			obj + ": update: key already exists", sys.ErrKeyExist},
		{&sys.OpError{Object: obj, Op: "update", Err: &sys.Error{Op: sys.OpMapUpdate, Errno: unix.E2BIG}},
			obj + ": update: map is full", sys.ErrFull},
		{&sys.OpError{Object: obj, Op: "delete", Err: &sys.Error{Op: sys.OpMapDelete, Errno: unix.EPERM}},
			obj + ": delete: operation not permitted: the map is frozen", sys.ErrReadOnly},
		{&sys.OpError{Object: obj, Op: "iterate", Err: &sys.Error{Op: sys.OpMapLookupBatch, Errno: sys.ENOTSUPP}},
			obj + ": iterate: map lookup batch: operation not supported", sys.ErrNotSupported},
		{&sys.OpError{Op: "reserve", Err: os.ErrClosed}, "reserve: file already closed", os.ErrClosed},
	} {
		if !strings.HasPrefix(c.err.Error(), c.want) {
			t.Errorf("%q, want it to start %q", c.err, c.want)
		}
		if !errors.Is(c.err, c.sentinel) {
			t.Errorf("%v does not match %v", c.err, c.sentinel)
		}
	}
	// A condition is matched only where it means what it says: ENOENT
	// from get_next_key is the end of the map, not a missing key.
	if err := (&sys.Error{Op: sys.OpMapNextKey, Errno: unix.ENOENT}); errors.Is(err, sys.ErrKeyNotExist) {
		t.Errorf("%v matches ErrKeyNotExist", err)
	}
	if err := (&sys.Error{Op: sys.OpMapLookup, Errno: unix.EPERM}); errors.Is(err, sys.ErrReadOnly) {
		t.Errorf("%v matches ErrReadOnly", err)
	}
}

// TestFreezeWithWritableMapping: a map mapped writable cannot be frozen
// (EBUSY), and the error says so instead of blaming a frozen map.
func TestFreezeWithWritableMapping(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 2, unix.BPF_F_MMAPABLE)
	raw, err := m.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(raw, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	m.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	wantErr(t, "freeze while mapped writable", sys.MapFreeze(m), unix.EBUSY,
		[]string{"map freeze: ", "a writable memory mapping of the map exists"}, "frozen")
}
