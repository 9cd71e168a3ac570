// SPDX-License-Identifier: GPL-2.0
/* Enums of every size (1, 2, 4 and 8 bytes) and sign in the value of one
 * map, so that a loader (bpftool prog loadall … pinmaps …) creates it with
 * BTF and bpftool's dump can be held against ours. */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

#define BPF_MAP_TYPE_HASH 1

enum __attribute__((packed)) e8u { E8U_ONE = 1, E8U_HIGH = 200, E8U_MAX = 255 };
enum __attribute__((packed)) e8s { E8S_MIN = -128, E8S_NEG = -1, E8S_TEN = 10 };
enum __attribute__((packed)) e16u { E16U_ONE = 1, E16U_BIG = 0xfff0, E16U_MAX = 0xffff };
enum __attribute__((packed)) e16s { E16S_MIN = -32768, E16S_NEG = -16, E16S_TEN = 10 };
enum e32u { E32U_ONE = 1, E32U_HIGH = 0x80000000u, E32U_MAX = 0xffffffffu };
enum e32s { E32S_MIN = -2147483647 - 1, E32S_NEG = -1, E32S_TEN = 10 };
enum e64u { E64U_ONE = 1, E64U_HUGE = 1ULL << 40, E64U_HIGH = 0x80000000ULL, E64U_MAX = 0xffffffffffffffffULL };
enum e64s { E64S_NEG = -705032704LL, E64S_BIG = -5000000000LL, E64S_MINUS = -1, E64S_HUGE = 1LL << 40 };

struct enums {
	enum e8u e8u;
	enum e8s e8s;
	enum e16u e16u;
	enum e16s e16s;
	enum e32u e32u;
	enum e32s e32s;
	enum e64u e64u;
	enum e64s e64s;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, unsigned int);
	__type(value, struct enums);
} enums SEC(".maps");

SEC("xdp")
int pass(void *ctx)
{
	return 2; /* XDP_PASS */
}

char LICENSE[] SEC("license") = "GPL";
