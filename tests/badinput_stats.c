/* The bad-input rows of include/uvactor/stats.h: port and member stats, loop utilization, the process. Run
 * by tests/test_badinput.c, which also shows them in docs/errors.md. */
#include "badinput.h"

static int port_stats(fx_t *fx) {
  uva_port_stats_t stats;

  return uva_port_stats(fx->port, &stats);
}

static int port_stats_null(fx_t *fx) {
  return uva_port_stats(fx->port, NULL);
}

static int broadcast_stats(fx_t *fx) {
  uva_queue_stats_t stats;

  return uva_broadcast_stats(fx->member, &stats);
}

static int broadcast_stats_null(fx_t *fx) {
  return uva_broadcast_stats(fx->member, NULL);
}

static int actor_elu(fx_t *fx) {
  uva_elu_t elu;

  return uva_actor_elu(fx->actor_p, &elu);
}

static int actor_elu_null(fx_t *fx) {
  return uva_actor_elu(fx->actor_p, NULL);
}

static int self_elu_null(fx_t *fx) {
  uva_elu_t elu;

  (void)fx;
  return uva_self_elu(NULL, &elu);
}

static int main_self_elu_null_out(uva_self_t *self) {
  return -uva_self_elu(self, NULL);
}

/* The call is made inside an actor; its result comes back as the exit code. */
static int self_elu_null_out(fx_t *fx) {
  uva_actor_t actor;
  int code = 0;

  (void)fx;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_self_elu_null_out, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  return -code;
}

static const uva_elu_t earlier = {.busy_ns = 1, .idle_ns = 2, .spin_ns = 3};
static const uva_elu_t later = {.busy_ns = 2, .idle_ns = 4, .spin_ns = 6};

static int elu_diff_before_null(fx_t *fx) {
  uva_elu_t delta;

  (void)fx;
  return uva_elu_diff(NULL, &later, &delta);
}

static int elu_diff_after_null(fx_t *fx) {
  uva_elu_t delta;

  (void)fx;
  return uva_elu_diff(&earlier, NULL, &delta);
}

static int elu_diff_delta_null(fx_t *fx) {
  (void)fx;
  return uva_elu_diff(&earlier, &later, NULL);
}

static int elu_diff_swapped(fx_t *fx) {
  uva_elu_t delta;

  (void)fx;
  return uva_elu_diff(&later, &earlier, &delta);
}

static int process_stats_null(fx_t *fx) {
  (void)fx;
  return uva_process_stats(NULL);
}

static const row_t stats_rows[] = {
    {"uva_port_stats", NULL, P_NULL, port_stats, UV_EINVAL},
    {"uva_port_stats", NULL, P_ZEROED, port_stats, UV_EINVAL},
    {"uva_port_stats", "stats NULL", P_NEW, port_stats_null, UV_EINVAL},
    {"uva_port_stats", NULL, P_NEW, port_stats, 0},
    {"uva_port_stats", NULL, P_STARTED, port_stats, 0},
    {"uva_port_stats", "port started on another thread's loop (any thread may read)", P_OTHER_THREAD,
     port_stats, 0},
    {"uva_port_stats", "a port with a call pending", C_PENDING, port_stats, 0},
    {"uva_port_stats", NULL, P_CLOSING, port_stats, 0},
    {"uva_port_stats", NULL, P_PEER_CLOSED, port_stats, 0},
    {"uva_port_stats", NULL, P_CLOSED, port_stats, UV_EBADF},
    {"uva_port_stats", NULL, P_IN_MESSAGE, port_stats, UV_EBADF},
    {"uva_port_stats", NULL, P_IN_TRANSIT, port_stats, UV_EBADF},

    {"uva_broadcast_stats", NULL, B_NULL, broadcast_stats, UV_EINVAL},
    {"uva_broadcast_stats", NULL, B_ZEROED, broadcast_stats, UV_EINVAL},
    {"uva_broadcast_stats", "stats NULL", B_NEW, broadcast_stats_null, UV_EINVAL},
    {"uva_broadcast_stats", NULL, B_NEW, broadcast_stats, 0},
    {"uva_broadcast_stats", "member started on another thread's loop (any thread may read)", B_OTHER_THREAD,
     broadcast_stats, 0},
    {"uva_broadcast_stats", NULL, B_CLOSING, broadcast_stats, 0},
    {"uva_broadcast_stats", NULL, B_CLOSED, broadcast_stats, UV_EBADF},

    {"uva_actor_elu", NULL, A_NULL, actor_elu, UV_EINVAL},
    {"uva_actor_elu", NULL, A_ZEROED, actor_elu, UV_EINVAL},
    {"uva_actor_elu", "elu NULL", A_LOOP, actor_elu_null, UV_EINVAL},
    {"uva_actor_elu", NULL, A_LOOP, actor_elu, 0},
    {"uva_actor_elu", "actor of another thread's loop (any thread may read)", A_LOOP_OTHER_THREAD, actor_elu,
     0},
    {"uva_actor_elu", NULL, A_LOOPLESS, actor_elu, 0},
    {"uva_actor_elu", NULL, A_LOOP_EXITED, actor_elu, UV_ESRCH},
    {"uva_actor_elu", NULL, A_JOINED, actor_elu, UV_ESRCH},
    {"uva_self_elu", "self NULL", S_NONE, self_elu_null, UV_EINVAL},
    {"uva_self_elu", "elu NULL (inside an actor)", S_NONE, self_elu_null_out, UV_EINVAL},
    {"uva_elu_diff", "before NULL", S_NONE, elu_diff_before_null, UV_EINVAL},
    {"uva_elu_diff", "after NULL", S_NONE, elu_diff_after_null, UV_EINVAL},
    {"uva_elu_diff", "delta NULL", S_NONE, elu_diff_delta_null, UV_EINVAL},
    {"uva_elu_diff", "before and after swapped", S_NONE, elu_diff_swapped, UV_EINVAL},

    {"uva_process_stats", "stats NULL", S_NONE, process_stats_null, UV_EINVAL},
};

const table_t stats_table = TABLE("Stats", stats_rows);
