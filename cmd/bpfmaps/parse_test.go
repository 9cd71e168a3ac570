package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		err  string
	}{
		{"0a 0b", []byte{0x0a, 0x0b}, ""},
		{"0x0a0b", []byte{0x0a, 0x0b}, ""},
		{"0A0B", []byte{0x0a, 0x0b}, ""},
		{"u32:7", binary.NativeEndian.AppendUint32(nil, 7), ""}, // host order, as C stores it
		{"be16:80 u8:1", []byte{0, 80, 1}, ""},
		{"i16:-2", binary.NativeEndian.AppendUint16(nil, 0xfffe), ""},
		{"u64:0xffffffffffffffff", bytes.Repeat([]byte{0xff}, 8), ""},
		{"", nil, "empty bytes"},
		{"0x", nil, `malformed hex "0x"`},
		{"abc", nil, "odd number of digits"},
		{"zz", nil, `malformed hex "zz"`},
		{"u32:-1", nil, `bad u32 integer "-1"`},
		{"i8:128", nil, "out of range"},
		{"f32:1", nil, `unknown integer form "f32"`},
	} {
		got, err := parseBytes(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseBytes(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("parseBytes(%q) = % x, %v; want % x", tc.in, got, err, tc.want)
		}
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	l, err := parseLayout("a:u8,b:u64,c:be16,d:i32,e:cstring[5],f:bool,g:ipv4,h:bytes[3]")
	if err != nil {
		t.Fatal(err)
	}
	// C layout: a@0, b@8, c@16, d@20, e@24, f@29, g@30, h@34, size 40.
	if l.size() != 40 {
		t.Fatalf("size = %d, want 40 (as gcc lays out the same struct)", l.size())
	}
	b, err := l.encode("a=1,b=2,c=0x1234,d=-1,e=abcd,f=true,g=10.0.0.1,h=0a0b0c")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	want = binary.NativeEndian.AppendUint64(want, 2) // integers in host order
	want = append(want, 0x12, 0x34, 0, 0, 0xff, 0xff, 0xff, 0xff,
		'a', 'b', 'c', 'd', 0, 1, 10, 0, 0, 1, 0x0a, 0x0b, 0x0c, 0, 0, 0)
	if !bytes.Equal(b, want) {
		t.Fatalf("encode = % x\nwant     % x", b, want)
	}
	if got, want := l.text(b), "a=1 b=2 c=4660 d=-1 e=abcd f=true g=10.0.0.1 h=0a0b0c"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	for _, bad := range []string{"a:u8,a:u8", "a", "a:u24", "a:cstring[0]", "a:u32[2]", "1a:u8", "a:cstring[x]"} {
		if _, err := parseLayout(bad); err == nil {
			t.Errorf("parseLayout(%q) succeeded", bad)
		}
	}
}

// FuzzParseBytes: any argument parses or fails cleanly, never panics.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"0a 0b", "0x0a0b", "u32:7", "be16:80 u8:1", "i8:-1", "u64:0x", "x:1", ":", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseBytes(s)
		if err == nil && len(b) == 0 {
			t.Errorf("parseBytes(%q) gave no bytes and no error", s)
		}
	})
}

// FuzzLayout: any layout spec parses or fails cleanly, and a parsed layout
// decodes any record of its size (the kernel's bytes are untrusted) and
// re-encodes its own text.
func FuzzLayout(f *testing.F) {
	f.Add("pid:u32,comm:cstring[16],addr:be32", []byte("0123456789abcdef0123456789"))
	f.Add("a:u8,b:bool,c:ipv4,d:bytes[2],e:i64", bytes.Repeat([]byte{0xff}, 24))
	f.Fuzz(func(t *testing.T, spec string, data []byte) {
		l, err := parseLayout(spec)
		if err != nil || l.size() > 1<<12 {
			return
		}
		rec := make([]byte, l.size())
		copy(rec, data)
		_ = l.text(rec)
		_ = l.json(rec)
		_ = l.text(data) // wrong sizes are reported, not a panic
	})
}

// TestFuzzTargetsRun fuzzes each target of this package for a moment, as
// `go test -fuzz` does: this binary as the coordinator, started with this
// process's environment, and its fuzzing workers as children. Neither may
// act as the tool.
func TestFuzzTargetsRun(t *testing.T) {
	if testing.Short() {
		testutil.Skip(t, testutil.Short, "fuzzes for a few seconds")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"FuzzParseBytes", "FuzzLayout", "FuzzBTFFields"} {
		cmd := exec.Command(exe, "-test.run=^$", "-test.fuzz=^"+target+"$", "-test.fuzztime=200x",
			"-test.parallel=2", "-test.fuzzcachedir="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Errorf("fuzz %s: %v\n%s", target, err, out)
		}
	}
}
