package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// hostOnly skips a test that runs the go command in the kernel matrix's
// VMs, which have no Go toolchain or module cache of their own.
func hostOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("BPFMAPS_VMTEST") == "1" {
		testutil.Skip(t, testutil.NoTool, "the go command is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)")
	}
}

// readREADME returns the repository's README.md.
func readREADME(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("../../README.md")
	if os.IsNotExist(err) && os.Getenv("BPFMAPS_VMTEST") == "1" {
		testutil.Skip(t, testutil.NoTool, "README.md is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)")
	}
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestBuildAndVet builds and vets the example as a user of the module
// would, with the go command.
func TestBuildAndVet(t *testing.T) {
	hostOnly(t)
	goTool := testutil.RequireTool(t, "go")
	bin := filepath.Join(t.TempDir(), "xdpcount")
	for _, args := range [][]string{{"build", "-o", bin, "."}, {"vet", "."}} {
		if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestREADMEShowsTheProgram: the README's "use it from your module"
// program is this one, byte for byte, so that what it shows compiles.
func TestREADMEShowsTheProgram(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := readREADME(t)
	body := string(src[strings.Index(string(src), "package main"):])
	if !strings.Contains(string(doc), "```go\n"+body+"```\n") {
		t.Errorf("README.md does not show examples/xdpcount/main.go from its package clause on; copy it into the \"Use it from your module\" section")
	}
}

// recipe returns the command lines of the README's bpftool recipe.
func recipe(t *testing.T) []string {
	t.Helper()
	doc := readREADME(t)
	_, rest, ok := strings.Cut(string(doc), "<!-- recipe: xdpcount")
	if !ok {
		t.Fatal("README.md has no <!-- recipe: xdpcount --> block")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the README's recipe block does not end")
	}
	return strings.Split(strings.TrimSpace(block), "\n")
}

// TestREADMERecipe runs the README's recipe for bpftool without
// autoattach (Debian 12's 7.1): clang builds the object, bpftool prog
// loadall pins the program and its maps, bpftool prog run runs it on a test
// packet three times, and go run of this example prints the counts from
// the pinned map. The lines run in a private bpf filesystem instead of
// /sys/fs/bpf, with the files they write in a temporary directory;
// attaching to a device is a comment there.
func TestREADMERecipe(t *testing.T) {
	hostOnly(t)
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	for _, tool := range []string{"clang", "bpftool", "go"} {
		testutil.RequireTool(t, tool)
	}
	bpffs := testutil.BPFFS(t)
	tmp := t.TempDir()
	subst := strings.NewReplacer("/sys/fs/bpf", bpffs,
		" xdpcount.bpf.o", " "+filepath.Join(tmp, "xdpcount.bpf.o"),
		" packet.bin", " "+filepath.Join(tmp, "packet.bin"))
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var printed string
	ran := 0
	for _, line := range recipe(t) {
		if strings.HasPrefix(line, "#") {
			continue // comments, and attaching to a device: prog run drives the program instead
		}
		cmd := exec.Command("sh", "-c", subst.Replace(line))
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", subst.Replace(line), err, out)
		}
		if strings.HasPrefix(line, "go run") {
			printed = string(out)
		}
		ran++
	}
	if ran < 5 {
		t.Fatalf("ran %d lines of the recipe, want clang, loadall, the packet, prog run and go run", ran)
	}
	if want := "ethertype 0x0800: 3 packets, 192 bytes\n"; printed != want {
		t.Errorf("go run ./examples/xdpcount printed %q, want %q", printed, want)
	}
	if _, err := os.Stat(filepath.Join(bpffs, "xdpcount")); !os.IsNotExist(err) {
		t.Errorf("the recipe's rm -r left %s/xdpcount: %v", bpffs, err)
	}
}
