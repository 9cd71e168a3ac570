/* Every fixture struct as a global, so that clang emits its BTF. */
#include "fixtures.h"

struct flow_key v_flow_key;
struct conn v_conn;
struct hist v_hist;
struct packet v_packet;
struct session v_session;
struct bits v_bits;
struct task_event v_task_event;
struct hdr v_hdr;
struct opts v_opts;
struct grid v_grid;
struct stats v_stats;
struct wrapper v_wrapper;
struct with_big v_with_big;
struct flex v_flex;
struct marked v_marked;
struct c11 v_c11;
