package btf_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// loadVmlinux parses the running kernel's BTF, or skips when the kernel
// publishes none. A kernel built without CONFIG_DEBUG_INFO_BTF (Debian's
// s390x kernels) lacks a feature, which is a skip even under
// BPFMAPS_REQUIRE_BPF=1; a missing or unreadable sysfs is not.
func loadVmlinux(t testing.TB) *btf.Spec {
	t.Helper()
	if _, err := os.Stat(filepath.Join(btf.KernelDir, "vmlinux")); err != nil {
		if _, serr := os.Stat("/sys/kernel"); errors.Is(err, fs.ErrNotExist) && serr == nil {
			testutil.Skip(t, testutil.Kernel, "it publishes no BTF of its own (CONFIG_DEBUG_INFO_BTF): "+err.Error())
		}
		testutil.Skip(t, testutil.NoPrivilege, "cannot read the kernel's BTF: "+err.Error())
	}
	s, err := btf.LoadKernel()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bpftoolCount returns how many types `bpftool [--base-btf base] btf dump
// file path` lists.
func bpftoolCount(t *testing.T, bpftool, path, base string) int {
	t.Helper()
	args := []string{"btf", "dump", "file", path}
	if base != "" {
		args = append([]string{"--base-btf", base}, args...)
	}
	out, err := exec.Command(bpftool, args...).Output()
	if err != nil {
		t.Fatalf("bpftool %v: %v", args, err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "[") {
			n++
		}
	}
	return n
}

// TestKernelBTF parses vmlinux and every module's BTF under
// /sys/kernel/btf, and where bpftool is installed holds each type count to
// the number of types bpftool lists.
func TestKernelBTF(t *testing.T) {
	vmlinux := loadVmlinux(t)
	if vmlinux.NumTypes() < 1000 {
		t.Fatalf("vmlinux has %d types, expected many thousands", vmlinux.NumTypes())
	}
	for _, name := range []string{"task_struct", "bpf_map_info", "sock_common", "iphdr"} {
		id, err := vmlinux.Lookup(name, btf.KindStruct)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vmlinux.Size(id); err != nil {
			t.Fatal(err)
		}
		if _, err := vmlinux.Align(id); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[string]int{"vmlinux": vmlinux.NumTypes()}
	entries, err := os.ReadDir(btf.KernelDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "vmlinux" {
			continue
		}
		m, err := btf.LoadModule(e.Name(), vmlinux)
		if err != nil {
			t.Fatal(err)
		}
		if m.FirstID() != vmlinux.MaxID()+1 {
			t.Errorf("%s: first id %d, want %d", e.Name(), m.FirstID(), vmlinux.MaxID()+1)
		}
		counts[e.Name()] = m.NumTypes()
	}
	t.Logf("vmlinux and %d modules parse; vmlinux has %d types", len(counts)-1, counts["vmlinux"])

	bpftool := testutil.OptionalTool(t, "bpftool")
	if bpftool == "" {
		return
	}
	vmPath := filepath.Join(btf.KernelDir, "vmlinux")
	for name, n := range counts {
		base := vmPath
		if name == "vmlinux" {
			base = ""
		}
		if want := bpftoolCount(t, bpftool, filepath.Join(btf.KernelDir, name), base); n != want {
			t.Errorf("%s: parsed %d types, bpftool lists %d", name, n, want)
		}
	}
}
