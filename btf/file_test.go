package btf_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// TestLoadFileIsBounded names files that never end, block or are too
// large: LoadFile and LoadELFFile refuse each before reading it, with an
// *fs.PathError naming the file around a *btf.RefusedError that says why.
// Before the bound moved here, LoadFile (bpfcodegen -btf) read /dev/zero
// until the process ran out of memory and blocked on a FIFO.
func TestLoadFileIsBounded(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, btf.MaxFileSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, reason string }{
		{"/dev/zero", "a character device, not a regular file"},
		{fifo, "a FIFO, not a regular file"},
		{dir, "a directory, not a regular file"},
		{big, "larger than 256 MiB"},
	} {
		for name, load := range map[string]func(string) (*btf.Spec, error){"LoadFile": btf.LoadFile, "LoadELFFile": btf.LoadELFFile} {
			_, err := load(tc.file)
			var refused *btf.RefusedError
			var pe *fs.PathError
			if !errors.As(err, &refused) || !errors.As(err, &pe) || pe.Path != tc.file || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("%s(%s) = %v, want a RefusedError naming the file and %q", name, tc.file, err, tc.reason)
			}
		}
	}
	_, err := btf.LoadFile(filepath.Join(dir, "none"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile of a missing file = %v, want fs.ErrNotExist", err)
	}
}

// TestErrNoBTF: an object without a .BTF section is ErrNoBTF, with a
// message that says which BTF is missing.
func TestErrNoBTF(t *testing.T) {
	obj := testutil.CompileBPF(t, writeC(t, "nobtf.bpf.c", "int x;\n"), "-g0")
	_, err := btf.LoadFile(obj)
	if !errors.Is(err, btf.ErrNoBTF) || !strings.Contains(err.Error(), ".BTF section") {
		t.Errorf("LoadFile of an object without BTF = %v, want ErrNoBTF naming the .BTF section", err)
	}
}

func writeC(t *testing.T, name, src string) string {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
