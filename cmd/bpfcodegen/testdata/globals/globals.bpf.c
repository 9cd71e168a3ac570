// SPDX-License-Identifier: GPL-2.0
/* Global variables in .bss, .data and .rodata, with gaps between them,
 * and a program that uses them, so that a loader (bpftool prog loadall …
 * pinmaps …) creates the three global data maps with BTF. */
#define SEC(name) __attribute__((section(name), used))

typedef unsigned char __u8;
typedef unsigned int __u32;
typedef unsigned long long __u64;

struct totals {
	__u64 packets;
	__u64 bytes;
};

__u64 hits;
__u8 flag;
struct totals totals;
__u32 drops;
__u32 spare;

__u32 rate = 5;
char name[6] = "abc";
__u64 budget = 1000;

const volatile __u32 limit = 9;
const volatile __u64 seed = 42;

SEC("xdp")
int count(void *ctx)
{
	hits++;
	flag = 1;
	totals.packets += limit;
	totals.bytes += seed + budget;
	drops += rate + name[0];
	spare = 0;
	return 2; /* XDP_PASS */
}

char LICENSE[] SEC("license") = "GPL";
