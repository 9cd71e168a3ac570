package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// uniqueName returns prefix with a random suffix, a map name that no
// other run of the tests uses at the same time; the tests find maps by
// name. Map names hold 15 bytes: the prefix is cut to 10.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%.10s_%04x", prefix, rand.Uint32()&0xffff)
}

// cliWithin runs the tool as cli does, but kills it and fails the test
// when it has not ended within 20 seconds: for commands that hung before
// their fix.
func cliWithin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := toolCmd(toolPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
		case <-done:
		}
	}()
	cmd.Wait()
	close(done)
	if ctx.Err() != nil {
		t.Fatalf("bpfmaps %s did not end within 20s (stderr %q)", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// failsWithin is fails with cliWithin's bound.
func failsWithin(t *testing.T, code int, msgs []string, args ...string) {
	t.Helper()
	_, errOut, got := cliWithin(t, args...)
	if got != code {
		t.Errorf("bpfmaps %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), got, code, errOut)
		return
	}
	for _, m := range msgs {
		if !strings.Contains(errOut, m) {
			t.Errorf("bpfmaps %s: stderr %q does not contain %q", strings.Join(args, " "), errOut, m)
		}
	}
	if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
		t.Errorf("bpfmaps %s printed a Go stack:\n%s", strings.Join(args, " "), errOut)
	}
}

// TestBTFFileIsBounded names files that never end, block or are too large
// in --btf: each is refused at once, with exit status 2 and a message that
// says why. Before, /dev/zero was read until the process ran out of memory
// and a FIFO blocked the tool past its --timeout.
func TestBTFFileIsBounded(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	_, id := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, uniqueName("cli_bound"), 0, 0, 4096)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, maxFileSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, msg string }{
		{"/dev/zero", "--btf /dev/zero: a character device, not a regular file"},
		{fifo, "--btf " + fifo + ": a FIFO, not a regular file"},
		{dir, "--btf " + dir + ": a directory, not a regular file"},
		{big, fmt.Sprintf("--btf %s: %d bytes, larger than 256 MiB", big, maxFileSize+1)},
	} {
		failsWithin(t, 2, []string{tc.msg}, "tail", id, "--btf", tc.file, "--type", "event", "--timeout", "10s")
	}
	failsWithin(t, 1, []string{"--btf " + dir + "/none: no such file or directory"},
		"tail", id, "--btf", dir+"/none", "--type", "event")
}

// TestBTFFileCountsTowardsTimeout gives tail a timeout that ends before
// the BTF file is read: the tool says it timed out reading the file.
// Before, --timeout started only after the file was read and parsed.
func TestBTFFileCountsTowardsTimeout(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	obj := buildExample(t)
	_, id := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, uniqueName("cli_btfto"), 0, 0, 4096)
	failsWithin(t, 1, []string{"(ringbuf): tail: read --btf " + obj + ": timed out after 1ns"},
		"tail", id, "--btf", obj, "--type", "ring_event", "--count", "1", "--timeout", "1ns")
}

// TestNegativeDurations: a negative duration flag is a usage error. Before,
// watch --timeout -1s waited forever (a context takes a negative timeout
// for none).
func TestNegativeDurations(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	_, ring := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, uniqueName("cli_negr"), 0, 0, 4096)
	_, hash := newMap(t, unix.BPF_MAP_TYPE_HASH, uniqueName("cli_negh"), 4, 4, 2)
	for _, args := range [][]string{
		{"watch", hash, "u32:1", "--timeout", "-1s"},
		{"watch", hash, "u32:1", "--timeout", "1s", "--interval", "-1ms"},
		{"tail", ring, "--timeout", "-1s"},
		{"demo", "--duration", "-1s"},
	} {
		failsWithin(t, 2, []string{`invalid value "-1`, "durations must not be negative"}, args...)
	}
	failsWithin(t, 2, []string{`invalid value "soon" for flag -timeout: want a duration such as 500ms`},
		"watch", hash, "u32:1", "--timeout", "soon")
}

// TestMapBTFCountsTowardsTimeout: reading a map's own BTF is a step of
// watch under its --timeout too. Before, the timeout started after it.
func TestMapBTFCountsTowardsTimeout(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	flows := filepath.Join(loadExample(t, bpftool, buildExample(t)), "flows")
	failsWithin(t, 1, []string{`"flows" (hash): read the map's BTF (id `, "): timed out after 1ns"},
		"watch", flows, flowKeyHex, "--timeout", "1ns")
}
