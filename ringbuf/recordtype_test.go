package ringbuf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/ringbuf"
)

// event is testdata/record.bpf.c's struct event.
type event struct {
	PID  uint32
	Kind uint32 // enum kind
	TS   uint64
}

// byteKind has the same size as struct event (padding keeps it at 16), but
// its Kind is one byte where C has a 4-byte enum: a size check passes it,
// and its Kind would read only the low byte of the enum.
type byteKind struct {
	PID  uint32
	Kind uint8
	TS   uint64
}

// TestCheckRecordType: a Go record type is held against the C type of a
// BPF object's BTF, by name, with or without "struct", or by typedef; a
// field of the right size but the wrong kind is reported by name. Before,
// sample types were checked by size only and byteKind decoded silently
// and wrongly.
func TestCheckRecordType(t *testing.T) {
	obj := testutil.CompileBPF(t, "testdata/record.bpf.c")
	for _, name := range []string{"event", "struct event", "event_t"} {
		if err := ringbuf.CheckRecordType[event](obj, name); err != nil {
			t.Errorf("CheckRecordType[event](%q): %v", name, err)
		}
	}
	err := ringbuf.CheckRecordType[byteKind](obj, "struct event")
	var mismatch *btf.MismatchError
	if !errors.As(err, &mismatch) || !strings.Contains(err.Error(), "Kind") || !strings.Contains(err.Error(), "kind") {
		t.Fatalf("CheckRecordType[byteKind]: %v; want a mismatch naming the Go field Kind and the C member kind", err)
	}
	t.Log(err)
	for _, bad := range []string{"missing", "union event", "enum kind"} {
		if err := ringbuf.CheckRecordType[event](obj, bad); err == nil {
			t.Errorf("CheckRecordType[event](%q) succeeded", bad)
		}
	}
	if err := ringbuf.CheckRecordType[event](obj+".missing", "event"); err == nil {
		t.Error("CheckRecordType of a missing object file succeeded")
	}
}
