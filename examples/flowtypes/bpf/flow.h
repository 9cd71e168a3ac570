/* The C types of flow.bpf.c: the fixtures that bpfcodegen's BTF output is
 * held against (sizes, offsets and bytes as gcc lays them out) and that
 * bpfmaps dump formats as bpftool does. Self-contained C (the UAPI integer
 * typedefs are spelled out), so that clang -target bpf and the host's gcc
 * both compile it without system headers. */
#ifndef FLOW_H
#define FLOW_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;

enum flow_state {
	FLOW_NEW = 0,
	FLOW_ESTABLISHED = 1,
	FLOW_CLOSING = 2,
	FLOW_CLOSED = 3,
};

/* A flow key: network-order addresses and ports, 3 bytes of tail padding. */
struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

struct endpoint {
	__be32 addr;
	__be16 port;
	__u16 zone;
};

/* A value with an enum, a char array and a nested struct. */
struct flow_stats {
	__u64 packets;
	__u64 bytes;
	enum flow_state state;
	char comm[16];
	struct endpoint peer;
	__u32 flags;
};

struct point {
	__s32 x;
	__s32 y;
};

/* An array of structs, after a member that leaves a gap. */
struct path {
	__u16 n;
	struct point pts[4];
};

/* A named union inside a struct. */
struct tagged_addr {
	__u8 family;
	union {
		__be32 v4;
		__u8 v6[16];
	} addr;
	__u16 port;
};

/* Bitfields, then an ordinary member. */
struct tcp_flags {
	__u32 urgent : 1, ack : 1, window : 14, reserved : 16;
	__u16 after;
	__u8 tail : 3;
};

/* Packed: no padding at all, sizeof 7. */
struct wire {
	__u8 kind;
	__u32 len;
	__u16 id;
} __attribute__((packed));

/* Per-CPU counters: 4 bytes of tail padding. */
struct counters {
	__u64 rx;
	__u64 tx;
	__u32 drops;
};

/* Anonymous union and struct members, reached as if they were the outer
 * struct's own. */
struct anon {
	__u32 kind;
	union {
		struct {
			__u16 lo;
			__u16 hi;
		};
		__u32 both;
	};
	struct {
		__u8 c;
		__u8 d;
	};
};

typedef struct {
	__u32 lo;
	__u32 hi;
} pair_t;

/* A typedef'd anonymous struct, a signed char and a bool. */
struct event {
	pair_t span;
	__s8 level;
	_Bool done;
	__s64 delta_ns;
	char comm[16];
	__u16 cpus[3];
};

/* A union whose alignment (8) a Go byte array does not have: explicit
 * padding before it and at the end. */
struct wide {
	__u8 a;
	union {
		__u64 x;
		__u32 y;
	} u;
	__u8 b;
};

/* A ring buffer record: what bpfmaps tail --btf … --type ring_event
 * decodes (the tests' event writer emits it). */
struct ring_event {
	__u64 time_ns;
	__u32 cpu;
	__u32 len;
};

#endif
