package vmtests

import (
	"os"
	"testing"
)

// SelfCheckFailEnv makes TestSelfCheck fail when set to 1, so that
// scripts/vmtest.sh --selfcheck-fail can prove that a test failing inside
// the VM fails the matrix.
const SelfCheckFailEnv = "BPFMAPS_VMTEST_SELFCHECK_FAIL"

// TestSelfCheck fails on purpose when BPFMAPS_VMTEST_SELFCHECK_FAIL=1.
func TestSelfCheck(t *testing.T) {
	if os.Getenv(SelfCheckFailEnv) == "1" {
		t.Fatalf("%s=1: failing on purpose to prove the runner reports failures", SelfCheckFailEnv)
	}
}
