package refs_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/refs"
	"github.com/bpfmaps/bpfmaps/sys"
)

// createMap creates a map of the kind an example needs.
func createMap(typ, keySize, valueSize, maxEntries uint32) *mapops.Map {
	m, err := mapops.Create(mapops.Spec{Type: typ, KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries})
	if err != nil {
		log.Fatal(err)
	}
	return m
}

// run runs a test program: the BPF side of each example.
func run(load func() (*sys.FD, error), times int) {
	prog, err := load()
	if err != nil {
		log.Fatal(err)
	}
	defer prog.Close()
	if _, err := progs.Run(prog, times); err != nil {
		log.Fatal(err)
	}
}

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
	ring := createMap(unix.BPF_MAP_TYPE_RINGBUF, 0, 0, 64<<10)
	defer ring.Close()
	run(func() (*sys.FD, error) { return progs.EmitEvent(ring.FD()) }, 3) // the kernel writes 3 events

	events, err := refs.NewRingBufRef[Event](ring)
	if err != nil {
		log.Fatal(err)
	}
	defer events.Close() // with-ringbuf-ref

	for {
		ev, ok, err := events.ReadTimeout(100 * time.Millisecond)
		if err != nil {
			log.Fatal(err)
		}
		if !ok {
			break // no event for 100ms
		}
		fmt.Println("event for a packet of", ev.Len, "bytes")
	}
	// Output:
	// event for a packet of 50 bytes
	// event for a packet of 50 bytes
	// event for a packet of 50 bytes
}

// clj-ebpf: (doseq [event (take 100 (ringbuf-seq ref))] (process event)) and
// (doseq [event (ringbuf-seq ref :timeout-ms 5000)] (process event)).
func ExampleRingBufRef_Seq() {
	ring := createMap(unix.BPF_MAP_TYPE_RINGBUF, 0, 0, 64<<10)
	defer ring.Close()
	run(func() (*sys.FD, error) { return progs.EmitEvent(ring.FD()) }, 150)

	events, err := refs.NewRingBufRef[Event](ring)
	if err != nil {
		log.Fatal(err)
	}
	defer events.Close()

	// Take 100 events.
	n := 0
	for _, err := range events.Seq(context.Background(), 0) {
		if err != nil {
			log.Fatal(err)
		}
		if n++; n == 100 {
			break
		}
	}
	fmt.Println("took", n)

	// Process events until none comes for 50ms.
	n = 0
	for _, err := range events.Seq(context.Background(), 50*time.Millisecond) {
		if err != nil {
			log.Fatal(err)
		}
		n++
	}
	fmt.Println("then", n, "more before the timeout")
	// Output:
	// took 100
	// then 50 more before the timeout
}

// clj-ebpf: (ringbuf-ref events-rb :deserializer (fn [bytes] (parse-event bytes))).
func ExampleNewRingBufRefFunc() {
	ring := createMap(unix.BPF_MAP_TYPE_RINGBUF, 0, 0, 64<<10)
	defer ring.Close()
	run(func() (*sys.FD, error) { return progs.EmitEvent(ring.FD()) }, 1)

	// The deserializer sees the record in place in the ring.
	parseLen := func(b []byte) (uint32, error) {
		if len(b) != 16 {
			return 0, fmt.Errorf("event of %d bytes, want 16", len(b))
		}
		return binary.LittleEndian.Uint32(b[12:]), nil
	}
	lens, err := refs.NewRingBufRefFunc(ring, parseLen)
	if err != nil {
		log.Fatal(err)
	}
	defer lens.Close()
	n, err := lens.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("packet length:", n)
	// Output: packet length: 50
}

// Task is a queue value: a tagged struct would do as well.
type Task struct {
	ID   uint32
	Kind uint32
}

// clj-ebpf: (let [ref (queue-ref my-queue)] (when-let [item @ref] (process
// item))) with a producer pushing from elsewhere.
func ExampleQueueRef() {
	queue := createMap(unix.BPF_MAP_TYPE_QUEUE, 0, 8, 100)
	defer queue.Close()

	work, err := refs.NewQueueRef[Task](queue)
	if err != nil {
		log.Fatal(err)
	}
	defer work.Close() // with-queue-ref

	producer, err := refs.NewQueueWriter[Task](queue)
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close()
	go func() {
		time.Sleep(10 * time.Millisecond)
		producer.Push(Task{ID: 1, Kind: 7})
	}()

	task, err := work.Pop(context.Background()) // @ref: blocks until an item is there
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", task)

	// (deref worker 5000 :no-work)
	if _, ok, _ := work.PopTimeout(20 * time.Millisecond); !ok {
		fmt.Println("no work")
	}
	// Output:
	// {ID:1 Kind:7}
	// no work
}

// clj-ebpf: (doseq [item (take 50 (queue-seq ref))] (process item)).
func ExampleQueueRef_Seq() {
	queue := createMap(unix.BPF_MAP_TYPE_QUEUE, 0, 8, 100)
	defer queue.Close()
	// The kernel pushes 60 timestamps.
	run(func() (*sys.FD, error) { return progs.PushTime(queue.FD()) }, 60)

	stamps, err := refs.NewQueueRef[uint64](queue)
	if err != nil {
		log.Fatal(err)
	}
	defer stamps.Close()
	n, prev, ordered := 0, uint64(0), true
	for ts, err := range stamps.Seq(context.Background(), time.Second) {
		if err != nil {
			log.Fatal(err)
		}
		ordered = ordered && ts >= prev
		prev = ts
		if n++; n == 50 {
			break
		}
	}
	fmt.Println(n, "timestamps, oldest first:", ordered)
	// Output: 50 timestamps, oldest first: true
}

// clj-ebpf: (let [undo-ref (stack-ref undo-stack)] (let [last-action
// @undo-ref] (undo-action last-action))), and (deref ref 5000 :empty).
func ExampleStackRef() {
	stack := createMap(unix.BPF_MAP_TYPE_STACK, 0, 8, 100)
	defer stack.Close()
	w, err := refs.NewStackWriter[uint64](stack)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	w.Push(1)
	w.Push(2)

	undo, err := refs.NewStackRef[uint64](stack)
	if err != nil {
		log.Fatal(err)
	}
	defer undo.Close()
	for {
		v, ok, err := undo.PopTimeout(10 * time.Millisecond)
		if err != nil {
			log.Fatal(err)
		}
		if !ok {
			fmt.Println("empty")
			break
		}
		fmt.Println("undo", v)
	}
	// Output:
	// undo 2
	// undo 1
	// empty
}

// clj-ebpf: (let [watcher (map-watch stats-map :packet-count)] (let
// [initial-count (deref watcher 5000 0)] (println "Initial count:"
// initial-count))).
func ExampleMapWatcher() {
	stats := createMap(unix.BPF_MAP_TYPE_HASH, 4, 8, 16)
	defer stats.Close()
	const packetCount = 1

	watcher, err := refs.NewMapWatcher[uint32, uint64](stats, packetCount)
	if err != nil {
		log.Fatal(err)
	}
	defer watcher.Close() // with-map-watcher

	// A BPF program initializes the counter a little later.
	go func() {
		time.Sleep(20 * time.Millisecond)
		run(func() (*sys.FD, error) { return progs.UpdateHash(stats.FD(), packetCount, 42) }, 1)
	}()
	initial, ok, err := watcher.WaitTimeout(5 * time.Second)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		initial = 0 // (deref watcher 5000 0)
	}
	fmt.Println("Initial count:", initial)
	// Output: Initial count: 42
}

// clj-ebpf: (let [watcher (map-watch-changes stats-map :counter)] (loop
// [count 0] (when (< count 10) (println "Counter changed to:" @watcher)
// ...))).
func ExampleChangeWatcher() {
	stats := createMap(unix.BPF_MAP_TYPE_ARRAY, 4, 8, 4)
	defer stats.Close()
	const counter = 0
	prog, err := progs.Counter(stats.FD(), counter) // adds one per run
	if err != nil {
		log.Fatal(err)
	}
	defer prog.Close()

	watcher, err := refs.NewChangeWatcher[uint32, uint64](stats, counter)
	if err != nil {
		log.Fatal(err)
	}
	defer watcher.Close()
	for range 3 {
		progs.Run(prog, 1)
		v, err := watcher.Wait(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("Counter changed to:", v)
	}
	// Output:
	// Counter changed to: 1
	// Counter changed to: 2
	// Counter changed to: 3
}

// clj-ebpf: (map-watch-changes stats-map :counter :initial-value 0): won't
// trigger until the value differs from 0.
func ExampleNewChangeWatcherFrom() {
	stats := createMap(unix.BPF_MAP_TYPE_ARRAY, 4, 8, 4)
	defer stats.Close()

	watcher, err := refs.NewChangeWatcherFrom(stats, uint32(0), uint64(0))
	if err != nil {
		log.Fatal(err)
	}
	defer watcher.Close()
	if _, ok, _ := watcher.WaitTimeout(20 * time.Millisecond); !ok {
		fmt.Println("still 0")
	}
	run(func() (*sys.FD, error) { return progs.Counter(stats.FD(), 0) }, 5)
	v, _, _ := watcher.WaitTimeout(time.Second)
	fmt.Println("changed to", v)
	// Output:
	// still 0
	// changed to 5
}

// clj-ebpf: (let [counter (map-entry-ref stats-map :packet-count)] @counter
// (reset! counter 0) (swap! counter inc) (swap! counter + 10)
// (compare-and-set! counter 11 0)).
func ExampleEntryRef() {
	stats := createMap(unix.BPF_MAP_TYPE_HASH, 4, 8, 16)
	defer stats.Close()
	const packetCount = 1

	counter, err := refs.NewEntryRef[uint32, uint64](stats, packetCount)
	if err != nil {
		log.Fatal(err)
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
	// Output:
	// Count: 0 present: false
	// Count: 11
	// Reset counter from 11 to 0
}

// clj-ebpf: (map-entry-ref stats-map :count :validator #(>= % 0)), then
// (reset! counter 10) is fine and (reset! counter -1) throws.
func ExampleValidator() {
	stats := createMap(unix.BPF_MAP_TYPE_HASH, 4, 8, 16)
	defer stats.Close()

	nonNegative := func(n int64) error {
		if n < 0 {
			return fmt.Errorf("%d is negative", n)
		}
		return nil
	}
	counter, err := refs.NewEntryRef(stats, uint32(2), refs.Validator(nonNegative))
	if err != nil {
		log.Fatal(err)
	}
	defer counter.Close()
	fmt.Println(counter.Store(10))
	err = counter.Store(-1)
	fmt.Println(errors.Is(err, refs.ErrInvalidValue), err)
	v, _, _ := counter.Load()
	fmt.Println("still", v)
	// Output:
	// <nil>
	// true entry store: value rejected by validator: -1 is negative
	// still 10
}

// clj-ebpf: (-> producer (conj! {:task :start}) (conj! {:task :process})
// (conj! {:task :end})) (println "Next:" @producer).
func ExampleQueueWriter() {
	queue := createMap(unix.BPF_MAP_TYPE_QUEUE, 0, 8, 100)
	defer queue.Close()
	const start, process, end = 1, 2, 3

	producer, err := refs.NewQueueWriter[Task](queue)
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close() // with-queue-writer
	for i, kind := range []uint32{start, process, end} {
		if err := producer.Push(Task{ID: uint32(i), Kind: kind}); err != nil { // conj!
			log.Fatal(err)
		}
	}
	next, _, _ := producer.Peek() // @producer: peek, does not remove
	fmt.Printf("Next: %+v\n", next)
	// Output: Next: {ID:0 Kind:1}
}

// clj-ebpf: (conj! s :first) (conj! s :second) (conj! s :third) (println
// "Top:" @s) ; => :third.
func ExampleStackWriter() {
	stack := createMap(unix.BPF_MAP_TYPE_STACK, 0, 8, 100)
	defer stack.Close()
	const first, second, third = 1, 2, 3

	s, err := refs.NewStackWriter[uint64](stack)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Push(first)
	s.Push(second)
	s.Push(third)
	top, _, _ := s.Peek()
	fmt.Println("Top:", top)
	// Output: Top: 3
}

// clj-ebpf: a producer (future (dotimes [i 100] (conj! ch {:task i}))) and a
// consumer (loop [] (when-let [task (deref ch 5000 nil)] (process task)
// (recur))) sharing one queue-channel.
func ExampleQueueChannel() {
	queue := createMap(unix.BPF_MAP_TYPE_QUEUE, 0, 8, 1000)
	defer queue.Close()

	ch, err := refs.NewQueueChannel[Task](queue)
	if err != nil {
		log.Fatal(err)
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
			log.Fatal(err)
		}
		if !ok {
			break
		}
		sum += int(task.ID)
	}
	fmt.Println("processed tasks 0..99, sum of ids:", sum)
	// Output: processed tasks 0..99, sum of ids: 4950
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
	undoStack := createMap(unix.BPF_MAP_TYPE_STACK, 0, 8, 100)
	defer undoStack.Close()

	ch, err := refs.NewStackChannel[Op](undoStack)
	if err != nil {
		log.Fatal(err)
	}
	defer ch.Close() // with-stack-channel
	ch.Push(Op{Action: 1, Pos: 0})
	ch.Push(Op{Action: 1, Pos: 5})

	last, err := ch.Pop(context.Background()) // LIFO: the last edit first
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("undo %+v\n", last)
	// Output: undo {Action:1 Pos:5}
}

// The event-processing pipeline of clj-ebpf's refs chapter: events from a
// ring are counted with an EntryRef and the important ones queued for a
// worker through a QueueChannel.
func Example_pipeline() {
	eventsRB := createMap(unix.BPF_MAP_TYPE_RINGBUF, 0, 0, 256<<10)
	defer eventsRB.Close()
	stats := createMap(unix.BPF_MAP_TYPE_HASH, 4, 8, 10)
	defer stats.Close()
	workQueue := createMap(unix.BPF_MAP_TYPE_QUEUE, 0, 16, 1000)
	defer workQueue.Close()

	events, err := refs.NewRingBufRef[Event](eventsRB)
	if err != nil {
		log.Fatal(err)
	}
	defer events.Close()
	eventCount, err := refs.NewEntryRef[uint32, uint64](stats, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer eventCount.Close()
	work, err := refs.NewQueueChannel[Event](workQueue)
	if err != nil {
		log.Fatal(err)
	}
	defer work.Close()

	eventCount.Store(0)
	run(func() (*sys.FD, error) { return progs.EmitEvent(eventsRB.FD()) }, 10)
	for ev, err := range events.Seq(context.Background(), 50*time.Millisecond) {
		if err != nil {
			log.Fatal(err)
		}
		eventCount.Swap(func(n uint64) uint64 { return n + 1 })
		if ev.Len > 40 { // important
			work.Push(ev)
		}
	}
	queued := 0
	for range work.Seq(context.Background(), 10*time.Millisecond) {
		queued++
	}
	n, _, _ := eventCount.Load()
	fmt.Println("events:", n, "queued:", queued)
	// Output: events: 10 queued: 10
}
