package perf_test

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/perf"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Reading what BPF programs send with bpf_perf_event_output(ctx, &events,
// BPF_F_CURRENT_CPU, &data, sizeof(data)). The map has one entry per
// possible CPU (a loader would open the program's map with mapops.Open
// instead); NewReader fills them with its perf events, and Close empties
// them again. Each Read waits in epoll until a CPU's ring holds a record.
func ExampleNewReader() {
	cpus, err := sys.PossibleCPUs()
	if err != nil {
		fmt.Println(err)
		return
	}
	events, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
		KeySize: 4, ValueSize: 4, MaxEntries: uint32(cpus), Name: "events"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer events.Close()

	r, err := perf.NewReader(events, perf.RingSize(64<<10)) // bytes per CPU
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	// One ring per online CPU; OfflineCPUs lists the possible CPUs skipped.
	fmt.Println("every CPU:", len(r.CPUs())+len(r.OfflineCPUs()) == cpus)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.SetDeadline(time.Now().Add(50 * time.Millisecond)) // no program writes here
	var rec perf.Record
	for {
		if err := r.ReadInto(ctx, &rec); err != nil { // reuses rec.RawSample
			fmt.Println(err)
			break
		}
		if rec.LostSamples > 0 {
			fmt.Printf("cpu %d lost %d samples\n", rec.CPU, rec.LostSamples)
			continue
		}
		fmt.Printf("cpu %d: %x\n", rec.CPU, rec.RawSample)
	}
	fmt.Println("lost in all:", r.Lost())
	// Prints:
	// every CPU: true
	// perf: read: deadline passed: i/o timeout
	// lost in all: 0
}
