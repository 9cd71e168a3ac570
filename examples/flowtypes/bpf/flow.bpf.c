// SPDX-License-Identifier: GPL-2.0
/* Maps whose key and value types are those of flow.h, and a program that
 * uses them, so that a loader (bpftool prog loadall … pinmaps …) creates
 * the maps with BTF. Rebuild the object with:
 *
 *	clang -g -O2 -target bpf -c bpf/flow.bpf.c -o bpf/flow.bpf.o  (from examples/flowtypes)
 */
#include "flow.h"

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_HASH 5

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct path);
} paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct counters);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct point);
	__type(value, struct tagged_addr);
} addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct tcp_flags);
} flags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct wire);
} wires SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct anon);
} anons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct wide);
} wides SEC(".maps");

/* Keep struct event and struct ring_event in the object's BTF: ring
 * records have no map type. */
struct event last_event SEC(".data");
struct ring_event last_record SEC(".data");

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

SEC("xdp")
int count(void *ctx)
{
	__u32 zero = 0;
	struct path *p = bpf_map_lookup_elem(&paths, &zero);

	if (p)
		p->n++;
	return 2; /* XDP_PASS */
}

char LICENSE[] SEC("license") = "GPL";
