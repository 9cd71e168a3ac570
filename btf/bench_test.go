package btf_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

func vmlinux(b *testing.B) []byte {
	raw, err := os.ReadFile(filepath.Join(btf.KernelDir, "vmlinux"))
	if err != nil {
		testutil.Skip(b, testutil.NoPrivilege, "the kernel publishes no BTF: "+err.Error())
	}
	return raw
}

// BenchmarkParseVmlinux parses the running kernel's complete BTF from
// memory: every type, member and name validated; types are decoded on
// first use, as cilium/ebpf's LoadSpecFromReader does.
func BenchmarkParseVmlinux(b *testing.B) {
	raw := vmlinux(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for range b.N {
		if _, err := btf.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseVmlinuxDecodeAll is BenchmarkParseVmlinux followed by
// decoding every type: the cost of a walk over the whole kernel.
func BenchmarkParseVmlinuxDecodeAll(b *testing.B) {
	raw := vmlinux(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for range b.N {
		s, err := btf.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		for range s.All() {
		}
	}
}
