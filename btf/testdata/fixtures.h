/* Fixture structs for the BTF tests: compiled by clang for the BPF target
 * (fixtures.bpf.c, whose .BTF the parser reads) and by gcc for the host
 * (the offsets and sizes the parsed layouts are held to). Self-contained:
 * no system headers, so that both compilers see the same text. */
typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;

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
};

struct conn {
	struct endpoint src;
	struct endpoint dst;
	__u64 bytes;
};

struct bucket {
	__u64 lo;
	__u64 hi;
	__u32 count;
};

struct hist {
	__u32 n;
	struct bucket buckets[4];
};

struct packet {
	__u8 kind;
	union {
		__u32 v4;
		__u8 v6[16];
	} addr;
	__u16 len;
};

enum state { ST_NEW = 1, ST_OPEN = 2, ST_CLOSED = 3 };

struct session {
	enum state st;
	__u16 flags;
	__be64 cookie;
};

struct bits {
	__u32 a : 3;
	__u32 b : 5;
	__u32 c : 24;
	__u16 tail;
};

struct task_event {
	__u32 pid;
	char comm[16];
	__u64 ts;
};

struct __attribute__((packed)) hdr {
	__u8 type;
	__u32 len;
	__u16 id;
};

struct opts {
	_Bool on;
	__s8 level;
	__s16 x;
	__s32 y;
	__s64 z;
};

struct grid {
	__u16 cells[3][4];
	__u8 tag;
};

struct stats {
	double mean;
	float p99;
};

typedef struct flow_key flow_t;

struct wrapper {
	const volatile flow_t key;
	__u32 value;
};

enum big { BIG_ONE = 1, BIG_HUGE = 0x100000000ULL };

struct with_big {
	enum big b;
	__u8 small;
};

/* Members Go writes differently: a flexible array, a zero-length marker,
 * and C11 anonymous structs and unions whose members the parent reaches
 * directly. Not in the gcc offset table: offsetof needs member names. */
struct flex {
	__u32 len;
	__u64 data[];
};

struct marked {
	__u32 a;
	__u32 mark[0];
	__u32 b;
};

struct c11 {
	__u32 a;
	struct {
		__u16 b;
		__u16 c;
	};
	union {
		__u32 d;
		float e;
		struct {
			__u16 lo;
			__u16 hi;
		};
	};
	__u64 f;
};
