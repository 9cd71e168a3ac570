/* A program with two maps described by BTF, for `bpftool prog loadall …
 * pinmaps …` in the BTF tests. No libbpf headers: the few macros it needs
 * are spelled out. */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2

struct flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__u8 proto;
	__be16 dport;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct flow);
} last_flow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow);
	__type(value, struct flow_stats);
} flows SEC(".maps");

/* Global data: a .bss map whose BTF value type is a DATASEC. */
__u64 seen;
struct flow first;

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

SEC("xdp")
int count(void *ctx)
{
	__u32 k = 0;
	struct flow *f = bpf_map_lookup_elem(&last_flow, &k);
	if (f) {
		struct flow_stats *s = bpf_map_lookup_elem(&flows, f);
		if (s)
			s->packets++;
		if (!seen++)
			first = *f;
	}
	return 2; /* XDP_PASS */
}

char _license[] SEC("license") = "GPL";
