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
