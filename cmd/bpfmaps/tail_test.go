package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestTail has a program write events into a ringbuf before and while
// tail runs: tail prints the ones already there first, then the new ones,
// decoded with a layout, and stops after --count.
func TestTail(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	ring, id := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, "cli_tail", 0, 0, 4096)
	prog, err := progs.EmitEvent(ring)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if _, err := progs.Run(prog, 3); err != nil {
		t.Fatal(err)
	}
	cmd := toolCmd(toolPath, "tail", "cli_tail", "--count", "5", "--timeout", "10s", "--layout", "ts:u64,cpu:u32,len:u32")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	if _, err := io.ReadFull(pipe, first); err != nil { // the records already in the ring
		t.Fatalf("tail printed nothing: %v (stderr %q)", err, stderr.String())
	}
	if _, err := progs.Run(prog, 2); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(pipe)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tail: %v (stderr %q)", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(first)+string(rest), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("tail --count 5 printed %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines { // len: the 64-byte test packet less its Ethernet header
		if !strings.HasPrefix(l, "ts=") || !strings.HasSuffix(l, " len=50") {
			t.Errorf("record line %q, want ts=… cpu=… len=50", l)
		}
	}

	// JSON, and a layout that does not fit.
	progs.Run(prog, 1)
	out := ok(t, "tail", id, "--count", "1", "--json", "--layout", "ts:u64")
	var rec struct {
		Size int
		Data []string
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Size != 16 || len(rec.Data) != 16 {
		t.Errorf("tail --json = %q (%v)", out, err)
	}
	progs.Run(prog, 1)
	if out := ok(t, "tail", id, "--count", "1", "--layout", "ts:u64"); !strings.HasSuffix(out, "(16 bytes, the layout has 8)\n") {
		t.Errorf("tail with a layout of the wrong size = %q", out)
	}

	fails(t, 1, []string{`map ` + id + ` "cli_tail" (ringbuf): tail: timed out after 200ms with 0 of 1 records`},
		"tail", id, "--count", "1", "--timeout", "200ms")
	if out := ok(t, "tail", id, "--timeout", "100ms"); out != "" {
		t.Errorf("tail of an empty ring printed %q", out)
	}
	// Ctrl-C ends a tail normally.
	c := toolCmd(toolPath, "tail", id)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntilOpen(t, c, id)
	c.Process.Signal(syscall.SIGINT)
	if err := c.Wait(); err != nil {
		t.Errorf("tail after Ctrl-C: %v, want exit status 0", err)
	}
	_, hashID := newMap(t, unix.BPF_MAP_TYPE_HASH, "cli_tail_hash", 4, 4, 1)
	fails(t, 1, []string{`map ` + hashID + ` "cli_tail_hash" (hash): tail: a hash map is not a ringbuf`}, "tail", hashID)
	fails(t, 2, []string{"--count must not be negative"}, "tail", id, "--count", "-1")
}

// TestTailResumes: tail consumes what it prints: three runs of tail
// --count 3 over nine records print the nine records once each, in order,
// and leave the ring empty. Before, each run printed the same first three
// records.
func TestTailResumes(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	ring, id := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, "cli_tail_resume", 0, 0, 4096)
	prog, err := progs.EmitEvent(ring)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if _, err := progs.Run(prog, 9); err != nil {
		t.Fatal(err)
	}
	var times []uint64
	for range 3 {
		out := ok(t, "tail", id, "--count", "3", "--timeout", "10s", "--layout", "ts:u64,cpu:u32,len:u32")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("tail --count 3 printed %q", out)
		}
		for _, l := range lines {
			var ts uint64
			if _, err := fmt.Sscanf(l, "ts=%d", &ts); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			times = append(times, ts)
		}
	}
	for i := 1; i < len(times); i++ {
		if times[i] <= times[i-1] {
			t.Fatalf("three runs of tail --count 3 printed the records with times %v: records repeated", times)
		}
	}
	if out := ok(t, "tail", id, "--timeout", "100ms"); out != "" {
		t.Errorf("tail after the nine records printed %q", out)
	}
}

// TestTailUnprivileged: a user with no capability tails a ring through a
// 0666 pin: the map exists, so tail needs no feature probe, and the
// mappings and epoll need no privilege. Before, it failed with "new
// reader: probe map type ringbuf: map create: operation not permitted".
func TestTailUnprivileged(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	testutil.RequireUnprivilegedCommands(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	ring, _ := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, "cli_tail_unpriv", 0, 0, 4096)
	prog, err := progs.EmitEvent(ring)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if _, err := progs.Run(prog, 2); err != nil {
		t.Fatal(err)
	}
	// A bpf filesystem that nobody can reach, with the ring pinned 0666.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0755"); err != nil {
		testutil.Skip(t, testutil.NoPrivilege, fmt.Sprintf("cannot mount a bpf filesystem: %v", err))
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	pin := filepath.Join(dir, "ring")
	if err := sys.ObjPin(ring, pin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pin, 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := toolCmd(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		toolPath, "tail", pin, "--count", "2", "--timeout", "10s", "--layout", "ts:u64,cpu:u32,len:u32")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), "ts=") != 2 {
		t.Fatalf("tail as nobody through a 0666 pin: %v, output %q; want two records", err, out)
	}
}
