// SPDX-License-Identifier: GPL-2.0
/* An XDP program that counts packets and bytes by EtherType in a hash map,
 * for the example of loading a clang-built object with bpftool and reading
 * its pinned map from Go (see ../main.go and the README). Self-contained:
 * no libbpf headers. Build it with:
 *
 *	clang -g -O2 -target bpf -c bpf/xdpcount.bpf.c -o xdpcount.bpf.o
 */
typedef unsigned char __u8;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

#define BPF_MAP_TYPE_HASH 1
#define BPF_NOEXIST 1
#define XDP_PASS 2

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

/* What the map holds for one EtherType. */
struct counts {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32); /* the EtherType, e.g. 0x0800 for IPv4 */
	__type(value, struct counts);
} counts SEC(".maps");

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;

	if (data + 14 > end)
		return XDP_PASS;
	__u32 type = (__u32)data[12] << 8 | data[13];
	__u64 len = end - data;
	struct counts *c = bpf_map_lookup_elem(&counts, &type);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, len);
	} else {
		struct counts first = { 1, len };
		bpf_map_update_elem(&counts, &type, &first, BPF_NOEXIST);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
