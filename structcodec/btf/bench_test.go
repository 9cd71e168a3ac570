package btf_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/structcodec/btf"
)

// BenchmarkParseVmlinux parses the running kernel's complete BTF from
// memory: every type, member and name, with validation.
func BenchmarkParseVmlinux(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(btf.KernelDir, "vmlinux"))
	if err != nil {
		testutil.Skip(b, "the kernel publishes no BTF: "+err.Error())
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := btf.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
