// peer.c is the libbpf peer of the bench command: one round of every row,
// with libbpf's own API, on descriptors the bench command created and
// passed down (the same maps as the Go peers; a kernel ring and a user
// ring of its own, made the same way, with the programs that fill and
// drain them). It prints "row<TAB>nanoseconds per operation" per row.
//
//   peer OPS WALK_ENTRIES RING_BYTES USER_SAMPLES   (descriptors 3-12)
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum {
	FD_HASH = 3,
	FD_FLOW,
	FD_PERCPU,
	FD_WALK,
	FD_RING,
	FD_FILL8,
	FD_FILL64,
	FD_FILL1024,
	FD_URING,
	FD_UDRAIN,
};

static const int record_sizes[] = {8, 64, 1024};
#define USER_SAMPLE 64
#define BATCH 4096

static volatile uint64_t sink;

static void die(const char *what, int err)
{
	fprintf(stderr, "libbpf peer: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

// now_ns is the thread's CPU time, as in the Go peers (see threadTime).
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void report(const char *row, double ns) { printf("%s\t%.3f\n", row, ns); }

// test_run runs a socket filter repeat times; it may stop early with EINTR.
static int test_run(int prog, int repeat, int *retval)
{
	static char packet[64], out[64];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);
	int err = bpf_prog_test_run_opts(prog, &opts);
	if (err)
		return -errno;
	*retval = (int)opts.retval;
	return 0;
}

static uint64_t round8(uint64_t n) { return (n + 7) & ~7ULL; }

// The kernel ring's positions, mapped read-only, to know how full it is.
static volatile uint64_t *cons_pos, *prod_pos;

static void fill_ring(int prog, int size, int want)
{
	uint64_t rec = round8(size + 8);
	for (;;) {
		int have = (int)((*prod_pos - *cons_pos) / rec), ret = 0;
		if (have >= want)
			return;
		int err = test_run(prog, want - have, &ret);
		if (err && err != -EINTR)
			die("fill ring", err);
		if (!err && ret != 0)
			die("fill ring: ring full", ENOSPC);
	}
}

static void drain_user_ring(void)
{
	for (;;) {
		int ret = 0, err = test_run(FD_UDRAIN, 1, &ret);
		if (err && err != -EINTR)
			die("drain user ring", err);
		if (ret < 0)
			die("drain user ring", ret);
		if (!err && ret == 0)
			return;
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)size;
	sink += *(uint8_t *)data;
	return 0;
}

static char copy_buf[4096];

static int on_record_copy(void *ctx, void *data, size_t size)
{
	(void)ctx;
	memcpy(copy_buf, data, size);
	return 0;
}

static int walk_iter(int fd)
{
	uint32_t key, next;
	uint64_t val;
	int count = 0;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			die("walk lookup", errno);
		count++;
	}
	if (errno != ENOENT)
		die("walk get_next_key", errno);
	return count;
}

static int walk_batch(int fd)
{
	static uint32_t keys[BATCH];
	static uint64_t vals[BATCH];
	uint32_t in, out;
	int count = 0;
	void *inp = NULL;
	for (;;) {
		uint32_t n = BATCH;
		int err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &n, NULL);
		if (err && errno != ENOENT)
			die("walk batch", errno);
		count += n;
		if (err)
			return count;
		in = out;
		inp = &in;
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s OPS WALK_ENTRIES RING_BYTES USER_SAMPLES (descriptors 3-12)\n", argv[0]);
		return 2;
	}
	int ops = atoi(argv[1]), walk_entries = atoi(argv[2]), ring_bytes = atoi(argv[3]), user_samples = atoi(argv[4]);
	long page = sysconf(_SC_PAGESIZE);
	printf("version\t%d\n", libbpf_major_version() * 1000 + libbpf_minor_version());

	// Map operations: the same maps and keys as the Go peers.
	uint32_t key = 1;
	uint64_t val, uval = 3;
	for (int i = 0; i < 1000; i++)
		bpf_map_lookup_elem(FD_HASH, &key, &val);
	double t = now_ns();
	for (int i = 0; i < ops; i++)
		if (bpf_map_lookup_elem(FD_HASH, &key, &val))
			die("lookup", errno);
	report("lookup_u32", (now_ns() - t) / ops);
	t = now_ns();
	for (int i = 0; i < ops; i++)
		if (bpf_map_update_elem(FD_HASH, &key, &uval, BPF_ANY))
			die("update", errno);
	report("update_u32", (now_ns() - t) / ops);

	unsigned char flow_key[40], flow_val[32];
	if (bpf_map_get_next_key(FD_FLOW, NULL, flow_key))
		die("flow key", errno);
	t = now_ns();
	for (int i = 0; i < ops; i++)
		if (bpf_map_lookup_elem(FD_FLOW, flow_key, flow_val))
			die("struct lookup", errno);
	report("lookup_struct", (now_ns() - t) / ops);

	int ncpu = libbpf_num_possible_cpus();
	if (ncpu < 0)
		die("possible CPUs", ncpu);
	uint64_t *percpu = calloc(ncpu, sizeof(uint64_t));
	t = now_ns();
	for (int i = 0; i < ops; i++)
		if (bpf_map_lookup_elem(FD_PERCPU, &key, percpu))
			die("per-CPU lookup", errno);
	report("lookup_percpu", (now_ns() - t) / ops);

	t = now_ns();
	if (walk_iter(FD_WALK) != walk_entries)
		die("walk: wrong count", EINVAL);
	report("walk_iter", now_ns() - t);
	t = now_ns();
	if (walk_batch(FD_WALK) != walk_entries)
		die("batch walk: wrong count", EINVAL);
	report("walk_batch", now_ns() - t);

	// Kernel ring: this process's mappings are fresh, so one untimed fill
	// and drain first touches every page; then fill untimed, time the drain.
	void *cp = mmap(NULL, page, PROT_READ, MAP_SHARED, FD_RING, 0);
	void *pp = mmap(NULL, page, PROT_READ, MAP_SHARED, FD_RING, page);
	if (cp == MAP_FAILED || pp == MAP_FAILED)
		die("map ring positions", errno);
	cons_pos = cp;
	prod_pos = pp;
	struct ring_buffer *rb = ring_buffer__new(FD_RING, on_record, NULL, NULL);
	struct ring_buffer *rbc = ring_buffer__new(FD_RING, on_record_copy, NULL, NULL);
	if (!rb || !rbc)
		die("ring_buffer__new", errno);
	const int fills[] = {FD_FILL8, FD_FILL64, FD_FILL1024};
	for (int warm = 0; warm < 2; warm++) {
		fill_ring(FD_FILL64, 64, ring_bytes / round8(64 + 8) - 1);
		if (ring_buffer__consume(warm ? rbc : rb) <= 0)
			die("warm-up consume", EIO);
	}
	for (int i = 0; i < 3; i++) {
		int size = record_sizes[i], want = ring_bytes / round8(size + 8) - 1;
		char row[32];
		for (int copying = 0; copying < 2; copying++) {
			fill_ring(fills[i], size, want);
			t = now_ns();
			int n = ring_buffer__consume(copying ? rbc : rb);
			double ns = now_ns() - t;
			if (n != want)
				die("consume: wrong count", EIO);
			snprintf(row, sizeof(row), "%s_%d", copying ? "copy" : "consume", size);
			report(row, ns / n);
		}
	}
	ring_buffer__free(rb);
	ring_buffer__free(rbc);

	// User ring: a warm-up pass, then time the producer on a ring the
	// kernel drained untimed.
	struct user_ring_buffer *urb = user_ring_buffer__new(FD_URING, NULL);
	if (!urb)
		die("user_ring_buffer__new", errno);
	unsigned char src[USER_SAMPLE];
	for (int i = 0; i < USER_SAMPLE; i++)
		src[i] = i;
	for (int pass = 0; pass < 2; pass++) {
		drain_user_ring();
		t = now_ns();
		for (int i = 0; i < user_samples; i++) {
			void *s = user_ring_buffer__reserve(urb, USER_SAMPLE);
			if (!s)
				die("user_ring_buffer__reserve", errno);
			memcpy(s, src, USER_SAMPLE);
			user_ring_buffer__submit(urb, s);
		}
		if (pass == 1)
			report("urb_single", (now_ns() - t) / user_samples);
	}
	drain_user_ring();
	user_ring_buffer__free(urb);

	// BTF of vmlinux: btf__parse indexes and checks every type; the second
	// row also looks every type up once.
	t = now_ns();
	struct btf *btf = btf__parse("/sys/kernel/btf/vmlinux", NULL);
	if (!btf)
		die("btf__parse", errno);
	report("btf_parse", now_ns() - t);
	btf__free(btf);
	t = now_ns();
	btf = btf__parse("/sys/kernel/btf/vmlinux", NULL);
	if (!btf)
		die("btf__parse", errno);
	for (uint32_t id = 1; id < btf__type_cnt(btf); id++)
		sink += btf__type_by_id(btf, id)->info;
	report("btf_types", now_ns() - t);
	btf__free(btf);
	return 0;
}
