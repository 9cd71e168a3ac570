package refs_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/refs"
)

// events is the ring the ring examples read: a BPF_MAP_TYPE_RINGBUF that
// a BPF program writes Event records to, which an application opens from
// the pin its loader made, as in
//
//	events, err := mapops.Open("/sys/fs/bpf/events")
//
// Only the kernel writes to such a ring, so TestExamples creates it and
// runs a test program that writes the events before each ring example.
var events *mapops.Map

// Event is the record the example BPF program writes to its ring:
// struct event { __u64 time_ns; __u32 cpu; __u32 len; }.
type Event struct {
	TimeNS uint64
	CPU    uint32
	Len    uint32
}

// clj-ebpf: (let [ref (ringbuf-ref my-ringbuf :deserializer parse-event)]
// (loop [] (when-let [event (deref ref 5000 nil)] (process event) (recur)))).
func ExampleRingBufRef() {
	// The BPF program has written 3 events.
	ref, err := refs.NewRingBufRef[Event](events)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ref.Close() // with-ringbuf-ref

	for {
		ev, ok, err := ref.ReadTimeout(100 * time.Millisecond)
		if err != nil {
			fmt.Println(err)
			return
		}
		if !ok {
			break // no event for 100ms
		}
		fmt.Println("event for a packet of", ev.Len, "bytes")
	}
	// Prints:
	// event for a packet of 50 bytes
	// event for a packet of 50 bytes
	// event for a packet of 50 bytes
}

// clj-ebpf: (doseq [event (take 100 (ringbuf-seq ref))] (process event)) and
// (doseq [event (ringbuf-seq ref :timeout-ms 5000)] (process event)).
func ExampleRingBufRef_Seq() {
	// The BPF program has written 150 events.
	ref, err := refs.NewRingBufRef[Event](events)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ref.Close()

	// Take 100 events.
	n := 0
	seq, errf := ref.Seq(context.Background(), refs.Forever)
	for range seq {
		if n++; n == 100 {
			break
		}
	}
	fmt.Println("took", n, errf())

	// Process events until none comes for 50ms.
	n = 0
	seq, errf = ref.Seq(context.Background(), 50*time.Millisecond)
	for range seq {
		n++
	}
	if err := errf(); err != nil { // the error that ended the loop, if any
		fmt.Println(err)
		return
	}
	fmt.Println("then", n, "more before the timeout")
	// Prints:
	// took 100 <nil>
	// then 50 more before the timeout
}

// clj-ebpf: (ringbuf-ref events-rb :deserializer (fn [bytes] (parse-event bytes))).
func ExampleNewRingBufRefFunc() {
	// The deserializer sees the record in place in the ring.
	parseLen := func(b []byte) (uint32, error) {
		if len(b) != 16 {
			return 0, fmt.Errorf("event of %d bytes, want 16", len(b))
		}
		return binary.NativeEndian.Uint32(b[12:]), nil
	}
	lens, err := refs.NewRingBufRefFunc(events, parseLen)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lens.Close()
	n, err := lens.Read(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("packet length:", n)
	// Prints: packet length: 50
}

// Task is a queue value: a tagged struct would do as well.
type Task struct {
	ID   uint32
	Kind uint32
}

// clj-ebpf: (let [ref (queue-ref my-queue)] (when-let [item @ref] (process
// item))) with a producer pushing from elsewhere.
func ExampleQueueRef() {
	queue, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer queue.Close()

	work, err := refs.NewQueueRef[Task](queue)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer work.Close() // with-queue-ref

	producer, err := refs.NewQueueWriter[Task](queue)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer producer.Close()
	go func() {
		time.Sleep(10 * time.Millisecond)
		producer.Push(Task{ID: 1, Kind: 7})
	}()

	task, err := work.Pop(context.Background()) // @ref: blocks until an item is there
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", task)

	// (deref worker 5000 :no-work)
	if _, ok, _ := work.PopTimeout(20 * time.Millisecond); !ok {
		fmt.Println("no work")
	}
	// Prints:
	// {ID:1 Kind:7}
	// no work
}

// clj-ebpf: (doseq [item (take 50 (queue-seq ref))] (process item)).
func ExampleQueueRef_Seq() {
	queue, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer queue.Close()
	// A producer elsewhere (often a BPF program) pushes 60 timestamps.
	clock, err := refs.NewQueueWriter[uint64](queue)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer clock.Close()
	for range 60 {
		clock.Push(uint64(time.Now().UnixNano()))
	}

	stamps, err := refs.NewQueueRef[uint64](queue)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stamps.Close()
	n, prev, ordered := 0, uint64(0), true
	seq, errf := stamps.Seq(context.Background(), time.Second)
	for ts := range seq {
		ordered = ordered && ts >= prev
		prev = ts
		if n++; n == 50 {
			break
		}
	}
	if err := errf(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, "timestamps, oldest first:", ordered)
	// Prints: 50 timestamps, oldest first: true
}

// clj-ebpf: (let [undo-ref (stack-ref undo-stack)] (let [last-action
// @undo-ref] (undo-action last-action))), and (deref ref 5000 :empty).
func ExampleStackRef() {
	stack, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_STACK, ValueSize: 8, MaxEntries: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stack.Close()
	w, err := refs.NewStackWriter[uint64](stack)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	w.Push(1)
	w.Push(2)

	undo, err := refs.NewStackRef[uint64](stack)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer undo.Close()
	for {
		v, ok, err := undo.PopTimeout(10 * time.Millisecond)
		if err != nil {
			fmt.Println(err)
			return
		}
		if !ok {
			fmt.Println("empty")
			break
		}
		fmt.Println("undo", v)
	}
	// Prints:
	// undo 2
	// undo 1
	// empty
}

// clj-ebpf: (let [watcher (map-watch stats-map :packet-count)] (let
// [initial-count (deref watcher 5000 0)] (println "Initial count:"
// initial-count))).
func ExampleMapWatcher() {
	stats, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stats.Close()
	const packetCount = 1

	watcher, err := refs.NewMapWatcher[uint32, uint64](stats, packetCount)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer watcher.Close() // with-map-watcher

	// The counter is initialized a little later, usually by a BPF program;
	// here by a goroutine.
	go func() {
		time.Sleep(20 * time.Millisecond)
		stats.UpdateInt(packetCount, 42, mapops.Any)
	}()
	initial, ok, err := watcher.WaitTimeout(5 * time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	if !ok {
		initial = 0 // (deref watcher 5000 0)
	}
	fmt.Println("Initial count:", initial)
	// Prints: Initial count: 42
}

// clj-ebpf: (let [watcher (map-watch-changes stats-map :counter)] (loop
// [count 0] (when (< count 10) (println "Counter changed to:" @watcher)
// ...))).
func ExampleChangeWatcher() {
	stats, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stats.Close()
	const counter = 0

	watcher, err := refs.NewChangeWatcher[uint32, uint64](stats, counter)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer watcher.Close()
	for packets := range uint64(3) {
		stats.UpdateInt(counter, packets+1, mapops.Any) // usually a BPF program counting
		v, err := watcher.Wait(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("Counter changed to:", v)
	}
	// Prints:
	// Counter changed to: 1
	// Counter changed to: 2
	// Counter changed to: 3
}

// clj-ebpf: (map-watch-changes stats-map :counter :initial-value 0): won't
// trigger until the value differs from 0.
func ExampleNewChangeWatcherFrom() {
	stats, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stats.Close()

	watcher, err := refs.NewChangeWatcherFrom(stats, uint32(0), uint64(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer watcher.Close()
	if _, ok, _ := watcher.WaitTimeout(20 * time.Millisecond); !ok {
		fmt.Println("still 0")
	}
	stats.UpdateInt(0, 5, mapops.Any) // usually a BPF program
	v, _, _ := watcher.WaitTimeout(time.Second)
	fmt.Println("changed to", v)
	// Prints:
	// still 0
	// changed to 5
}

// clj-ebpf: (let [counter (map-entry-ref stats-map :packet-count)] @counter
// (reset! counter 0) (swap! counter inc) (swap! counter + 10)
// (compare-and-set! counter 11 0)).
func ExampleEntryRef() {
	stats, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stats.Close()
	const packetCount = 1

	counter, err := refs.NewEntryRef[uint32, uint64](stats, packetCount)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer counter.Close() // with-map-entry-ref

	v, ok, _ := counter.Load() // @counter
	fmt.Println("Count:", v, "present:", ok)
	counter.Store(0)                                             // reset!
	counter.Swap(func(n uint64) uint64 { return n + 1 })         // swap! inc
	v, _ = counter.Swap(func(n uint64) uint64 { return n + 10 }) // swap! + 10
	fmt.Println("Count:", v)
	if swapped, _ := counter.CompareAndSwap(11, 0); swapped { // compare-and-set!
		fmt.Println("Reset counter from 11 to 0")
	}
	// Prints:
	// Count: 0 present: false
	// Count: 11
	// Reset counter from 11 to 0
}

// clj-ebpf: (map-entry-ref stats-map :count :validator #(>= % 0)), then
// (reset! counter 10) is fine and (reset! counter -1) throws.
func ExampleValidator() {
	stats, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stats.Close()

	nonNegative := func(n int64) error {
		if n < 0 {
			return fmt.Errorf("%d is negative", n)
		}
		return nil
	}
	counter, err := refs.NewEntryRef(stats, uint32(2), refs.Validator(nonNegative))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer counter.Close()
	fmt.Println(counter.Store(10))
	err = counter.Store(-1)
	fmt.Println(errors.Is(err, refs.ErrInvalidValue), err)
	v, _, _ := counter.Load()
	fmt.Println("still", v)
	// Prints:
	// <nil>
	// true refs: entry store: value rejected by validator: -1 is negative
	// still 10
}

// clj-ebpf: (-> producer (conj! {:task :start}) (conj! {:task :process})
// (conj! {:task :end})) (println "Next:" @producer).
func ExampleQueueWriter() {
	queue, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer queue.Close()
	const start, process, end = 1, 2, 3

	producer, err := refs.NewQueueWriter[Task](queue)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer producer.Close() // with-queue-writer
	for i, kind := range []uint32{start, process, end} {
		if err := producer.Push(Task{ID: uint32(i), Kind: kind}); err != nil { // conj!
			fmt.Println(err)
			return
		}
	}
	next, _, _ := producer.Peek() // @producer: peek, does not remove
	fmt.Printf("Next: %+v\n", next)
	// Prints: Next: {ID:0 Kind:1}
}

// clj-ebpf: (conj! s :first) (conj! s :second) (conj! s :third) (println
// "Top:" @s) ; => :third.
func ExampleStackWriter() {
	stack, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_STACK, ValueSize: 8, MaxEntries: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stack.Close()
	const first, second, third = 1, 2, 3

	s, err := refs.NewStackWriter[uint64](stack)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	s.Push(first)
	s.Push(second)
	s.Push(third)
	top, _, _ := s.Peek()
	fmt.Println("Top:", top)
	// Prints: Top: 3
}

// clj-ebpf: a producer (future (dotimes [i 100] (conj! ch {:task i}))) and a
// consumer (loop [] (when-let [task (deref ch 5000 nil)] (process task)
// (recur))) sharing one queue-channel.
func ExampleQueueChannel() {
	queue, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer queue.Close()

	ch, err := refs.NewQueueChannel[Task](queue)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ch.Close() // with-queue-channel

	go func() { // producer
		for i := range 100 {
			ch.Push(Task{ID: uint32(i)})
		}
	}()
	sum := 0
	for { // consumer
		task, ok, err := ch.PopTimeout(100 * time.Millisecond)
		if err != nil {
			fmt.Println(err)
			return
		}
		if !ok {
			break
		}
		sum += int(task.ID)
	}
	fmt.Println("processed tasks 0..99, sum of ids:", sum)
	// Prints: processed tasks 0..99, sum of ids: 4950
}

// Op is one edit of an undo log.
type Op struct {
	Action uint32 // 1 = insert
	Pos    uint32
}

// clj-ebpf: (conj! ch {:action :insert :pos 0 :text "Hello"}) (conj! ch
// {:action :insert :pos 5 :text " World"}) (let [last-op @ch] (undo
// last-op)).
func ExampleStackChannel() {
	undoStack, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_STACK, ValueSize: 8, MaxEntries: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer undoStack.Close()

	ch, err := refs.NewStackChannel[Op](undoStack)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ch.Close() // with-stack-channel
	ch.Push(Op{Action: 1, Pos: 0})
	ch.Push(Op{Action: 1, Pos: 5})

	last, err := ch.Pop(context.Background()) // LIFO: the last edit first
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("undo %+v\n", last)
	// Prints: undo {Action:1 Pos:5}
}

// The event-processing pipeline of clj-ebpf's refs chapter: events from a
// ring are counted with an EntryRef and the important ones queued for a
// worker through a QueueChannel.
func Example_pipeline() {
	// events is the ring the BPF program writes (here, 10 events).
	stats, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stats.Close()
	workQueue, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 16, MaxEntries: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer workQueue.Close()

	incoming, err := refs.NewRingBufRef[Event](events)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer incoming.Close()
	eventCount, err := refs.NewEntryRef[uint32, uint64](stats, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eventCount.Close()
	work, err := refs.NewQueueChannel[Event](workQueue)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer work.Close()

	eventCount.Store(0)
	seq, errf := incoming.Seq(context.Background(), 50*time.Millisecond)
	for ev := range seq {
		eventCount.Swap(func(n uint64) uint64 { return n + 1 })
		if ev.Len > 40 { // important
			work.Push(ev)
		}
	}
	if err := errf(); err != nil {
		fmt.Println(err)
		return
	}
	queued := 0
	jobs, _ := work.Seq(context.Background(), 10*time.Millisecond)
	for range jobs {
		queued++
	}
	n, _, _ := eventCount.Load()
	fmt.Println("events:", n, "queued:", queued)
	// Prints: events: 10 queued: 10
}
