// The record type of CheckRecordType's test: a struct with an enum whose
// size padding would hide from a size-only check.
typedef unsigned int __u32;
typedef unsigned long long __u64;

enum kind { KIND_OPEN, KIND_CLOSE };

struct event {
	__u32 pid;
	enum kind kind;
	__u64 ts;
};

typedef struct event event_t;

// A global of each type, so that the object's BTF describes them.
struct event event_example;
event_t event_t_example;
