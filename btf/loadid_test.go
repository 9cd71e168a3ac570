package btf_test

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Every BTF object the kernel holds parses by id, and where bpftool is
// installed, each has as many types as `bpftool btf dump id N` lists.
func TestLoadIDEveryObject(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	// Without bpftool (the VM matrix), the objects are parsed but not
	// counted.
	bpftool := testutil.OptionalTool(t, "bpftool")
	// Kernels before 5.11 give vmlinux no id: load one object of our own.
	var b btf.Builder
	b.Int("int", 4, true)
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	own, err := sys.BTFLoad(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	ownInfo, err := sys.BTFGetInfo(own)
	if err != nil {
		t.Fatal(err)
	}
	n, found := 0, false
	for id := uint32(0); ; {
		next, err := sys.BTFGetNextID(id)
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		id = next
		spec, err := btf.LoadID(id)
		if errors.Is(err, unix.ENOENT) {
			continue // unloaded meanwhile by another test
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		found = found || id == ownInfo.ID
		if bpftool == "" {
			continue
		}
		out, err := exec.Command(bpftool, "btf", "dump", "id", strconv.Itoa(int(id))).Output()
		if err != nil {
			continue // gone before bpftool looked
		}
		want := 0
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "[") {
				want++
			}
		}
		if spec.NumTypes() != want {
			t.Errorf("btf id %d: parsed %d types, bpftool lists %d", id, spec.NumTypes(), want)
		}
	}
	if !found {
		t.Fatalf("the BTF object the test loaded (id %d) was not among the %d found", ownInfo.ID, n)
	}
	t.Logf("%d BTF objects parse", n)
}
