// Package perf reads BPF_MAP_TYPE_PERF_EVENT_ARRAY maps: the samples BPF
// programs send to user space with bpf_perf_event_output, the transport
// every program written before ring buffers (Linux 5.8) uses.
//
// A perf event array holds one perf event per CPU. A Reader opens one for
// every online CPU (a software event of type PERF_COUNT_SW_BPF_OUTPUT
// that records raw samples), maps its ring, stores its descriptor in the
// map at the CPU's index, and waits for the kernel's wake-ups on all of
// them in one epoll set. Read and ReadInto return the next record of any
// CPU: a sample (Record.RawSample) or a count of samples the kernel
// dropped because that CPU's ring was full (Record.LostSamples, summed by
// Lost and LostByCPU). Close wakes every blocked read at once and removes
// the Reader's descriptors from the map, so the program's later writes
// fail instead of filling rings nobody reads.
//
// NewInMemory returns a Producer and a Reader over ordinary memory that
// follow the kernel's rules (record layout, padding, lost records), so
// consumers can be tested and fuzzed without a kernel or privileges.
//
// Each CPU has its own ring, so records of one CPU come in order but
// records of different CPUs do not; a BPF ring buffer (package ringbuf)
// has one ring shared by all CPUs, keeps a global order, wastes no memory
// on idle CPUs and is the better choice where the kernel has it.
package perf
