package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Map names of the tests in this file, unique per run: other runs of the
// tests may share the kernel (see uniqueName).
var (
	nWatch = uniqueName("cli_watch")
)

// TestDemo runs the README's main command with a short duration: it must
// show every part, exit 0 and leave no map behind.
func TestDemo(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	out := ok(t, "demo", "--duration", "1s")
	userring := "userring Go pushed samples 1..8, the kernel drained them: 8 samples so far, sum 36"
	if err := progs.HaveUserRingBufDrain(); errors.Is(err, sys.ErrNotSupported) {
		// The demo says why it leaves the part out (no JIT on s390x).
		userring = "skipped  userring: "
	}
	for _, want := range []string{
		"created  demo_counts", "created  demo_queue", "created  demo_percpu",
		"counter  program ran 1000×: watcher woke with demo_counts[1] 0 -> 1000",
		"(in FIFO order)", "demo_percpu[0]: cpu0=1",
		"ringbuf  program emitted 3 events, Go read {t0 cpu",
		userring,
		"summary", "none is left on the system",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	var maps []mapEntry
	if err := json.Unmarshal([]byte(ok(t, "list", "--json")), &maps); err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if strings.HasPrefix(m.Name, "demo_") {
			t.Errorf("map %d %q left behind by the demo", m.ID, m.Name)
		}
	}
}

// TestDemoInterrupted stops the demo with Ctrl-C: it must still clean up
// and exit 0.
func TestDemoInterrupted(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	cmd := toolCmd(toolPath, "demo", "--duration", "1m")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read the first line of a round, then interrupt.
	var out strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), "counter  program ran") {
		n, err := pipe.Read(buf)
		if err != nil {
			t.Fatalf("demo output ended early: %v\n%s", err, out.String())
		}
		out.Write(buf[:n])
	}
	cmd.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(pipe)
	out.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo after Ctrl-C: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "interrupted") || !strings.Contains(out.String(), "none is left on the system") {
		t.Errorf("demo after Ctrl-C:\n%s", out.String())
	}
}

// TestWatch starts watch on a missing key, then on an existing one, and
// writes the map from the test: each watch must print the new value and
// exit 0. A watch that times out or is interrupted exits 1 and says so.
func TestWatch(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m, id := newMap(t, unix.BPF_MAP_TYPE_HASH, nWatch, 4, 8, 4)
	put := func(v uint64) {
		k := uint32(1)
		if err := sys.MapUpdateElem(m, unsafe.Pointer(&k), unsafe.Pointer(&v), 0); err != nil {
			t.Fatal(err)
		}
	}
	watch := func(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := toolCmd(toolPath, append([]string{"watch"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stdout, &stderr
	}
	// Until the key exists.
	cmd, stdout, stderr := watch(nWatch, "u32:1", "--int", "--timeout", "10s")
	waitUntilOpen(t, cmd, id) // let it see the key missing
	put(7)
	if err := cmd.Wait(); err != nil || stdout.String() != "7\n" {
		t.Errorf("watch until the key exists: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	// Until the value changes.
	key1 := hexBytes(binary.NativeEndian.AppendUint32(nil, 1)) // u32:1 in host order
	cmd, stdout, stderr = watch(id, key1, "--timeout", "10s")
	waitUntilOpen(t, cmd, id)
	put(8)
	if err := cmd.Wait(); err != nil || stdout.String() != hexBytes(binary.NativeEndian.AppendUint64(nil, 8))+"\n" {
		t.Errorf("watch until the value changes: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	fails(t, 1, []string{`map ` + id + ` "` + nWatch + `" (hash): watch ` + key1 + `: timed out after 100ms`},
		"watch", nWatch, "u32:1", "--timeout", "100ms")
	// Ctrl-C.
	cmd, _, stderr = watch(nWatch, "u32:1")
	waitUntilOpen(t, cmd, id)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "watch "+key1+": interrupted") {
		t.Errorf("watch after Ctrl-C: %v, stderr %q", err, stderr)
	}
	fails(t, 2, []string{"--interval must be positive"}, "watch", nWatch, "u32:1", "--interval", "0s")
}
