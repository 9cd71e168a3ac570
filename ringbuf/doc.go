// Package ringbuf consumes BPF_MAP_TYPE_RINGBUF maps (Linux 5.8+): the
// records BPF programs write with bpf_ringbuf_output or
// bpf_ringbuf_reserve and bpf_ringbuf_submit, read in Go without a system
// call per record.
//
// A Reader maps the ring into the process as the kernel requires (the
// consumer page read-write, the producer page and the data area, which the
// kernel maps twice in a row so records never wrap, read-only) and waits
// for the kernel's wake-ups in epoll. Read and ReadInto copy one record out
// and block until there is one, with a context and an os.File-like
// deadline; ReadBatch copies out as many as a slice holds; Consume and
// ConsumeN hand records to a function in place. The batch forms take the
// Reader's lock and publish the consumer position once per batch, not per
// record, which is what makes draining cheap. Records already in the ring
// are returned before any wait, also those written with BPF_RB_NO_WAKEUP.
// Close wakes every blocked call at once and unmaps the ring only when no
// call is using it. A Consume callback may call AvailableBytes and the
// position methods.
//
// A Poller serves many rings from one goroutine, each with its own
// handler, like libbpf's ring_buffer__add and ring_buffer__poll.
//
// NewInMemory returns a Producer and a Reader over plain memory that
// follow the kernel's protocol (8-byte headers with busy and discard bits,
// 8-byte alignment, the wake-up rules), so consumers can be tested and
// fuzzed without a kernel or privileges.
//
// ringbuf and userringbuf, the two directions of the same protocol, share
// their conventions: NewInMemory returns both ends of an in-memory ring,
// producer first as the data flows; a reserved Sample is filled through
// its Bytes method and commits itself with Submit() or Discard() (here
// also SubmitFlags and DiscardFlags, with the kernel helpers' wake-up
// flags); a ring without room fails with an error wrapping sys.ErrFull
// and unix.ENOSPC, a record that can never fit with unix.E2BIG; blocking
// calls take a context and end with an error wrapping os.ErrClosed when
// their object is closed; Close returns the errors of releasing once,
// then nil.
package ringbuf
