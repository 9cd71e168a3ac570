package sys_test

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// A loaded BTF object is found by BTF_GET_NEXT_ID, opened by id, and its
// info gives back the very bytes that were loaded.
func TestBTFByID(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	raw := minimalBTF(32)
	fd, err := sys.BTFLoad(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	own, err := sys.BTFGetInfo(fd)
	if err != nil {
		t.Fatal(err)
	}
	if own.ID == 0 || !bytes.Equal(own.Raw, raw) || own.Name != "" || own.KernelBTF {
		t.Fatalf("info of loaded BTF: id %d, name %q, kernel %v, raw % x; want the loaded % x", own.ID, own.Name, own.KernelBTF, own.Raw, raw)
	}

	found, kernel := false, false
	for id := uint32(0); ; {
		next, err := sys.BTFGetNextID(id)
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if next <= id {
			t.Fatalf("next id after %d is %d", id, next)
		}
		id = next
		found = found || id == own.ID
		bfd, err := sys.BTFGetFDByID(id)
		if errors.Is(err, unix.ENOENT) {
			continue // unloaded meanwhile by another test
		}
		if err != nil {
			t.Fatal(err)
		}
		info, err := sys.BTFGetInfo(bfd)
		bfd.Close()
		if err != nil {
			t.Fatalf("btf %d: %v", id, err)
		}
		if info.ID != id || len(info.Raw) < 24 {
			t.Fatalf("btf %d: info says id %d, %d bytes", id, info.ID, len(info.Raw))
		}
		if id == own.ID && !bytes.Equal(info.Raw, raw) {
			t.Fatalf("btf %d by id: % x, want % x", id, info.Raw, raw)
		}
		kernel = kernel || info.KernelBTF && info.Name == "vmlinux"
	}
	if !found {
		t.Fatalf("BTF_GET_NEXT_ID never reached the loaded object %d", own.ID)
	}
	t.Logf("vmlinux among the BTF objects (kernel_btf, 5.11+): %v", kernel)

	if _, err := sys.BTFGetFDByID(0xffffffff); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("open of a BTF id that does not exist: %v", err)
	}
}
