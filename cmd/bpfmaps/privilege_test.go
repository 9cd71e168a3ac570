package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// asCapBPF runs the tool as nobody with CAP_BPF and no other capability.
func asCapBPF(t *testing.T, setpriv string, args ...string) (string, string, int) {
	t.Helper()
	cmd := toolCmd(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all,+bpf", "--ambient-caps=+bpf", toolPath}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("setpriv bpfmaps %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// openToAll lets every user reach path: it and the directories above it
// up to the temporary directory get read and search permission (the
// files the tests make are private to root).
func openToAll(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(path); strings.HasPrefix(dir, os.TempDir()+"/"); dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCapBPFOnly runs the tool with CAP_BPF and without CAP_SYS_ADMIN:
// list, and naming a map by id or name, fail saying they need
// CAP_SYS_ADMIN (the kernel walks and opens map ids only for it), a
// pinned path works, and info says the map's BTF needs CAP_SYS_ADMIN.
// Before, list said "needs CAP_BPF (or CAP_SYS_ADMIN)" to a process that
// had CAP_BPF.
func TestCapBPFOnly(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	bpftool := testutil.RequireTool(t, "bpftool")
	name := uniqueName("cli_capbpf")
	_, id := newMap(t, unix.BPF_MAP_TYPE_HASH, name, 4, 4, 2)
	maps := loadExample(t, bpftool, buildExample(t))
	flows := filepath.Join(maps, "flows")
	openToAll(t, flows, 0o666)
	openToAll(t, maps, 0o755)
	openToAll(t, filepath.Dir(maps), 0o755) // the bpf filesystem's root

	if _, errOut, code := asCapBPF(t, setpriv, "info", flows); code != 0 && strings.Contains(errOut, "setpriv") {
		testutil.Skip(t, testutil.NoPrivilege, "setpriv cannot give ambient capabilities here: "+errOut)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"list"}, "list maps: operation not permitted: needs CAP_SYS_ADMIN: the kernel walks map ids (BPF_MAP_GET_NEXT_ID) only for it, CAP_BPF is not enough"},
		{[]string{"info", id}, "open map id " + id + ": operation not permitted: needs CAP_SYS_ADMIN: the kernel opens maps by id (BPF_MAP_GET_FD_BY_ID) only for it, CAP_BPF is not enough; a pinned path needs only CAP_BPF"},
		{[]string{"dump", "id:" + id}, "open map id " + id + ": operation not permitted: needs CAP_SYS_ADMIN"},
		{[]string{"info", name}, fmt.Sprintf("find map %q: operation not permitted: needs CAP_SYS_ADMIN", name)},
	} {
		_, errOut, code := asCapBPF(t, setpriv, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.msg) || strings.Contains(errOut, "needs CAP_BPF") {
			t.Errorf("bpfmaps %v with CAP_BPF only: exit %d, stderr %q; want exit 1 and %q", tc.args, code, errOut, tc.msg)
		}
	}
	// A pinned path needs only CAP_BPF; the map's types need CAP_SYS_ADMIN.
	out, errOut, code := asCapBPF(t, setpriv, "info", flows)
	if code != 0 {
		t.Fatalf("info of a pinned map with CAP_BPF only: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "operation not permitted: needs CAP_SYS_ADMIN: the kernel opens a map's BTF by id (BPF_BTF_GET_FD_BY_ID) only for it") {
		t.Errorf("info with CAP_BPF only does not say the BTF needs CAP_SYS_ADMIN:\n%s", out)
	}
	// dump falls back to hex, and says why on stderr.
	_, errOut, code = asCapBPF(t, setpriv, "dump", flows)
	if code != 0 {
		t.Errorf("dump of a pinned map with CAP_BPF only: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(errOut, "the map's C types are not shown, keys and values are hex bytes: read btf id") ||
		!strings.Contains(errOut, "needs CAP_SYS_ADMIN") {
		t.Errorf("dump with CAP_BPF only does not say why it prints hex: stderr %q", errOut)
	}
}
