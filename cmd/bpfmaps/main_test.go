package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Map names of the tests in this file, unique per run: other runs of the
// tests may share the kernel (see uniqueName).
var (
	nList = uniqueName("cli_list")
)

// toolPath is the bpfmaps tool that the CLI tests run as a user would: this
// test binary, which behaves as the tool when runAsTool is set in its
// environment. No go toolchain is needed, so the tests also run where only
// the compiled test binary is (the VM kernel matrix).
var toolPath string

const runAsTool = "BPFMAPS_TEST_RUN_AS_TOOL"

func TestMain(m *testing.M) {
	if os.Getenv(runAsTool) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	toolPath = exe
	os.Exit(m.Run())
}

// toolCmd returns the command that runs name (the tool, or a program such
// as setpriv that runs it) with args, in an environment that makes this
// test binary act as the tool. The variable is set for that child only,
// never in this process: go test's fuzzing workers are children of this
// process too, and must fuzz.
func toolCmd(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), runAsTool+"=1",
		// A race-enabled binary sleeps a second on exit by default.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return cmd
}

// waitUntilOpen waits until the tool started as cmd has the map with the
// given id open, so that it is past its start-up (slow under the race
// detector) and about to read the map and wait; a test can then write the
// map or interrupt the tool and know the tool sees it.
func waitUntilOpen(t *testing.T, cmd *exec.Cmd, id string) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		fds, _ := os.ReadDir(dir)
		for _, fd := range fds {
			info, _ := os.ReadFile(filepath.Join(dir, fd.Name()))
			if strings.Contains(string(info), "\nmap_id:\t"+id+"\n") {
				// From the open to the first read and the signal handler
				// is a few calls of the tool's own code.
				time.Sleep(50 * time.Millisecond)
				return
			}
		}
	}
	t.Fatalf("bpfmaps %v did not open map %s within 10s (stderr %v)", cmd.Args[1:], id, cmd.Stderr)
}

// cli runs the tool and returns stdout, stderr and the exit status.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := toolCmd(toolPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run bpfmaps %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func createMap(t *testing.T, name string) sys.MapInfo {
	t.Helper()
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 12, MaxEntries: 77,
		MapFlags: unix.BPF_F_NO_COMMON_LRU}
	sys.SetName(&attr.MapName, name)
	fd, err := sys.MapCreate(&attr)
	if err != nil {
		t.Fatalf("create map: %v", err)
	}
	t.Cleanup(func() { fd.Close() })
	info, err := sys.MapGetInfo(fd)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestListShowsEveryMap(t *testing.T) {
	testutil.RequireBPF(t)
	info := createMap(t, nList)
	out, errOut, code := cli(t, "list")
	if code != 0 {
		t.Fatalf("list exited %d: %s", code, errOut)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, " "+nList) {
			line = l
		}
	}
	want := []string{fmt.Sprint(info.ID), "lru_hash", "4", "12", fmt.Sprint(info.MaxEntries), "0x2", nList}
	if got := strings.Fields(line); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("list line for the map = %q, want fields %q\n%s", line, want, out)
	}

	out, errOut, code = cli(t, "list", "--json")
	if code != 0 {
		t.Fatalf("list --json exited %d: %s", code, errOut)
	}
	var maps []mapEntry
	if err := json.Unmarshal([]byte(out), &maps); err != nil {
		t.Fatalf("list --json is not a JSON array of maps: %v\n%s", err, out)
	}
	found := false
	for _, m := range maps {
		if m.ID == info.ID {
			found = true
			if m != (mapEntry{ID: info.ID, Type: "lru_hash", Name: nList, Flags: 2, KeySize: 4, ValueSize: 12, MaxEntries: info.MaxEntries}) {
				t.Errorf("JSON entry = %+v", m)
			}
		}
	}
	if !found {
		t.Errorf("map %d missing from list --json", info.ID)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage: bpfmaps"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"list", "extra"}, 2, "list takes no arguments"},
		{[]string{"list", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"get", "id:99999999999", "u32:1"}, 2, "map id 99999999999 is out of range: ids are at most 4294967295"},
		{[]string{"info", "4294967296"}, 2, "map id 4294967296 is out of range"},
	} {
		_, errOut, code := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("bpfmaps %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	out, _, code := cli(t, "list", "--help")
	if code != 0 || !strings.Contains(out, "-json") {
		t.Errorf("list --help: exit %d, output %q", code, out)
	}
	out, _, code = cli(t, "--help")
	if code != 0 || !strings.Contains(out, "list") {
		t.Errorf("--help: exit %d, output %q", code, out)
	}
}

// TestListWithoutPrivilege runs the tool as nobody: it must fail with exit
// status 1 and say which privilege is missing.
func TestListWithoutPrivilege(t *testing.T) {
	testutil.RequireBPF(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	cmd := toolCmd(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", toolPath, "list")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("list as nobody: %v (stderr %q), want exit status 1", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "CAP_BPF") {
		t.Fatalf("list as nobody: stderr %q does not name CAP_BPF", stderr.String())
	}
}
