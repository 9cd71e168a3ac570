/* Every C integer width, each after a smaller member, for the generator's
 * layout of integers (128-bit ones are 16-byte aligned). No includes: the
 * same header is compiled by clang for BPF and by gcc on the host. */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __int128 __s128 __attribute__((aligned(16)));
typedef unsigned __int128 __u128 __attribute__((aligned(16)));

struct with128 {
	__u8 x;
	__u128 y;
};

struct after8 {
	__u64 a;
	__u8 b;
	__s128 c;
	__u8 d;
	__u128 e;
};

struct ints {
	char c;
	signed char sc;
	unsigned char uc;
	_Bool b;
	__u8 p0;
	short s;
	__u8 p1;
	unsigned short us;
	__u8 p2;
	int i;
	__u8 p3;
	unsigned int ui;
	__u8 p4;
	long l;
	__u8 p5;
	unsigned long ul;
	__u8 p6;
	long long ll;
	__u8 p7;
	unsigned long long ull;
	__u8 p8;
	__s8 s8;
	__u16 u16;
	__u8 p9;
	__s16 s16;
	__u8 p10;
	__u32 u32;
	__u8 p11;
	__s32 s32;
	__u8 p12;
	__u64 u64;
	__u8 p13;
	__s64 s64;
	__u8 p14;
	__s128 s128;
	__u8 p15;
	__u128 u128;
	__u64 p16;
	__int128 i128;
	__u32 p17;
	unsigned __int128 ui128;
	__u8 p18;
	__u128 arr[2];
	__u8 p19;
	struct with128 nested;
	__u8 p20[3];
	struct with128 nested2[2];
	__u8 p21;
	struct after8 after;
	__u8 tail;
};
