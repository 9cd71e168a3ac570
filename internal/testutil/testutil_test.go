package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeT records what a helper under test does to its test instead of doing
// it: the failures, the skip, and the cleanups, which run is run by run.
type fakeT struct {
	testing.TB
	failures []string
	skipped  string
	cleanups []func()
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Errorf(format, args...) }
func (f *fakeT) Skipf(format string, args ...any)  { f.skipped = fmt.Sprintf(format, args...) }

func (f *fakeT) run() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// leakedGoroutine blocks until stop closes; its name is what the leak
// report must show.
func leakedGoroutine(stop chan struct{}) { <-stop }

// TestCheckLeaksNamesWhatLeaked: a test that leaves a goroutine and a file
// open fails, and the failure shows the goroutine's stack and the file's
// path, not just counts.
func TestCheckLeaksNamesWhatLeaked(t *testing.T) {
	f := &fakeT{TB: t}
	CheckLeaks(f)
	stop := make(chan struct{})
	go leakedGoroutine(stop)
	path := filepath.Join(t.TempDir(), "left-open-by-the-test")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.run()
	close(stop)
	file.Close()
	got := strings.Join(f.failures, "\n")
	for _, want := range []string{"-> " + path, "1 goroutines leaked", "testutil.leakedGoroutine(", "testutil_test.go:"} {
		if !strings.Contains(got, want) {
			t.Errorf("the leak report does not show %q:\n%s", want, got)
		}
	}

	// Nothing left behind: no failure.
	f = &fakeT{TB: t}
	CheckLeaks(f)
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	if file, err := os.Open(path); err == nil {
		file.Close()
	}
	f.run()
	if len(f.failures) > 0 {
		t.Errorf("a test that left nothing behind failed: %v", f.failures)
	}
}

// TestSkipNamesTheReason: every skip names its reason, and a skip for a
// missing privilege or tool fails instead where the environment requires
// them; a kernel that lacks a feature or -short never does.
func TestSkipNamesTheReason(t *testing.T) {
	for _, c := range []struct {
		reason   Reason
		env      string // set to 1
		wantFail bool
		want     string
	}{
		{NoPrivilege, "", false, "skip (no privilege): detail"},
		{NoPrivilege, RequireEnv, true, RequireEnv + "=1 but the test would skip (no privilege): detail"},
		{NoTool, "", false, "skip (no tool): detail"},
		{NoTool, RequireToolsEnv, true, RequireToolsEnv + "=1 but the test would skip (no tool): detail"},
		{NoTool, RequireEnv, false, "skip (no tool): detail"},
		{Kernel, RequireEnv, false, "skip (kernel): detail"},
		{Short, RequireEnv, false, "skip (short): detail"},
		{EmitOnly, RequireToolsEnv, false, "skip (emit only): detail"},
		{0, "", true, "not a reason to skip"},
		{EmitOnly + 1, "", true, "not a reason to skip"},
	} {
		t.Run(fmt.Sprintf("%v/%s", c.reason, c.env), func(t *testing.T) {
			t.Setenv(RequireEnv, "0")
			t.Setenv(RequireToolsEnv, "0")
			if c.env != "" {
				t.Setenv(c.env, "1")
			}
			f := &fakeT{TB: t}
			Skip(f, c.reason, "detail")
			got := f.skipped
			if c.wantFail {
				if f.skipped != "" || len(f.failures) != 1 {
					t.Fatalf("skipped %q, failures %q; want one failure", f.skipped, f.failures)
				}
				got = f.failures[0]
			} else if len(f.failures) > 0 {
				t.Fatalf("failed: %q", f.failures)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("%q, want %q", got, c.want)
			}
		})
	}
}
