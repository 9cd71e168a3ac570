/* The structs of ints.h as globals, so that clang emits their BTF. */
#include "ints.h"

struct ints v_ints;
struct with128 v_with128;
struct after8 v_after8;
