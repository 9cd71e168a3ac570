// Package refs gives BPF maps and rings the feel of ordinary Go values:
// references that block until an event or a value is there, atom-like
// references to one map entry, and channel-like references to queues and
// stacks. They are the references of clj-ebpf's refs namespace, in Go:
//
//	clj-ebpf                       refs
//	ringbuf-ref, @ref, deref       RingBufRef: Read(ctx), ReadTimeout(d)
//	ringbuf-seq                    RingBufRef.Seq, RingBufRef.Chan
//	queue-ref, stack-ref           QueueRef, StackRef: Pop(ctx), PopTimeout(d)
//	queue-seq                      QueueRef.Seq, StackRef.Seq, .Chan
//	queue-seq :timeout-val         .SeqTimeoutValue (also ChangeWatcher)
//	map-watch                      MapWatcher: Wait(ctx), WaitTimeout(d)
//	map-watch-changes              ChangeWatcher (NewChangeWatcherFrom for :initial-value)
//	map-entry-ref (:validator)     EntryRef: Load, Store, Swap(f), CompareAndSwap (Validator)
//	compare-and-set! with nil old  EntryRef.StoreIfAbsent
//	queue-writer, stack-writer     QueueWriter, StackWriter: Push (conj!), Peek
//	queue-channel, stack-channel   QueueChannel, StackChannel: Push and Pop
//	with-*-ref macros              defer ref.Close()
//
// # Blocking, timeouts and Close
//
// Every blocking call has a context form (Read, Pop, Wait), which fails with
// ctx.Err() when the context ends, and a timeout form (ReadTimeout,
// PopTimeout, WaitTimeout) that returns (value, ok, err) and reports running
// out of time as ok == false with a nil error, where clj-ebpf returns its
// timeout value. Seq turns a reference into a range-over-func sequence
// that ends when a step times out, the reference is closed or the context
// ends, like clj-ebpf's lazy sequences (see Sequences and errors);
// SeqTimeoutValue yields a placeholder on a timeout and goes on, like
// clj-ebpf's :timeout-val. Chan delivers values on a channel for select
// loops.
//
// # Timeouts
//
// Every time.Duration timeout of the library (the timeout forms, Seq's
// timeout per value, and the rings' timeouts) follows one rule:
//
//	d < 0   waits without limit (Forever is -1; libbpf's -1 ms is the same)
//	d == 0  does not wait: takes what is there now, or reports the timeout
//	d > 0   waits up to d
//
// No value is an error. The context forms wait without limit with
// context.Background().
//
// # Sequences and errors
//
// Seq returns two things, as mapops' All and Keys do: the sequence to range
// over, and a function that reports the error that ended it (nil when a
// timeout, Close, a break or the end of the caller's context ended it; the
// caller tells its own cancellation by ctx.Err()), to call after the loop:
//
//	seq, errf := queue.Seq(ctx, time.Second)
//	for v := range seq { … }
//	if err := errf(); err != nil { … }
//
// This is the library's one convention for sequences that can fail, chosen
// over yielding (value, error) pairs because a map walk needs both places
// of iter.Seq2 for the key and the value, because Chan already delivers
// values and the ending error apart, and because the loop body then
// handles values only, with the error checked once, as with
// bufio.Scanner's Err.
//
// Every reference is an io.Closer. Close wakes every call blocked in it at
// once; they, and later calls, fail with an error wrapping os.ErrClosed.
// No goroutine outlives Close or the end of the
// context given to Chan.
//
// # How waits wait
//
// The kernel wakes a ring's readers through epoll, so RingBufRef sleeps
// until the kernel writes an event: no polling. For queues, stacks and
// hash or array maps the kernel has no such signal, so QueueRef, StackRef,
// MapWatcher and ChangeWatcher check the map, then sleep with back-off
// from 100µs doubling up to the poll interval (PollInterval, 10 ms by
// default) between checks. Writes made through this package's references
// in this process (Push, Store, Swap, CompareAndSwap) wake those waiters at
// once, so only writers outside the process (a BPF program, another
// process) pay the poll interval.
//
// # Values
//
// Keys and values go through structcodec, so K, V and T can be integers,
// arrays or tagged structs whose C layout matches the map's key and value
// sizes; a mismatch is an error when the reference is made. Where the map
// has BTF, K and V are also held against its types (mapops.NewTyped); a
// process without CAP_SYS_ADMIN may not read that BTF and passes
// mapops.CheckBTF or mapops.AllowUnreadableBTF through TypedOptions or
// EntryTypedOptions. RingBufRef
// takes a deserializer for events of any shape (NewRingBufRefFunc).
//
// # Atomicity
//
// EntryRef's Store, Swap and CompareAndSwap are atomic among all EntryRefs
// of this process on the same map and key: they share one lock, found by
// the map's kernel id and the key's bytes. BPF programs and other
// processes do not take that lock; see EntryRef for what they can see and
// for the kernel-side ways to exclude them.
//
// # Ownership
//
// References borrow the map they are made from and never close it; close
// the map after its references. RingBufRef reads through its own duplicate
// of the ring's descriptor. Calls on a reference whose map was closed fail
// with an error wrapping os.ErrClosed.
package refs
