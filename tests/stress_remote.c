/* Stress for remote/: chains of remote ports and remote actors across 3 processes, while one of them dies.
 *
 * This process is node "c"; tests/remote_node runs nodes "a" and "b" (on ipc:// endpoints in a scratch
 * directory), and a connects to b. c keeps UVA_STRESS_CHAINS chains (default 8) alive; a chain is one of:
 *   echo-a, echo-b   a remote actor "echo" spawned on a or b
 *   relay            a remote actor "relay" spawned on a, which spawns echo on b and relays both ways:
 *                    c -> a -> b -> a -> c, 3 processes and 2 sessions deep
 *   svc-a, svc-b     a remote port to the name "svc" on a or b (uva_remote_open), which echoes
 * Every 2 ms c posts a burst of [seq, pad] messages on each chain (one in 40 also carrying a moved buffer
 * stamped with its seq), waits for the writable callback when the window is full, and reads the echoes. At
 * random a chain is drained (no more posts; once every echo came back it is ended: terminated or closed) or
 * ended abruptly (terminated or closed with messages in flight), and its slot takes a new chain. A third of
 * the way in, b is killed (SIGKILL), and started again on its endpoint 300 ms later: a and c reconnect by
 * themselves. After UVA_STRESS_SECONDS (default 3) every chain is drained and ended, c's node closes, and a
 * and b are stopped. a's and c's transports run on their loops (uva_node_options_t.on_loop), b's on its own
 * thread: both kinds meet in every chain through a.
 *
 * Accounting, per chain: posted (by c), delivered (echoes c received). What must hold:
 *   - echoes come in order, each once: the seqs c receives are 0, 1, 2 ... (no loss inside, no duplicate,
 *     no reordering), and moved buffers come back whole;
 *   - a chain ended after draining delivered all it posted: posted = delivered;
 *   - a chain that lost messages (posted > delivered) ended with a cause the program was told: its own
 *     abrupt end, or a failure reported to it: a remote actor's exit code (UVA_EXIT_DISCONNECTED; relay's 9,
 *     with the echo's end in its error text; a spawn's error) or a remote port's UVA_NODE_CHANNEL_DOWN
 *     event naming its channel, or an open that failed;
 *   - only chains that go through b fail, and only once b was killed; every chain ends exactly once;
 *   - c's node closes, a and b end with status 0.
 * Leaks and races are for ASan and TSan (a, b and c all run the build's library).
 *
 * The seed comes from argv[1], else UVA_STRESS_SEED, else the clock; it is printed first so a failing run
 * can be replayed (scheduling and the network still vary). Speaks TAP. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_proc.h"
#include "remote_timing.h"
#include "stress.h"

#define MAX_SLOTS 32
#define BURST_MAX 4
#define PAD_MAX 200
#define BUF_EVERY 40
#define BUF_SIZE 2000
#define TICK_MS 2
#define RESTART_AFTER_MS 300
#define DRAIN_GUARD_MS 20000
#define RELAY_LOST 9 /* tests/remote_node.c: relay's exit code when its echo ended under it */

/* Chances, in parts per 10000, per chain and tick. */
#define P_DRAIN 30
#define P_ABRUPT 10

enum { K_ECHO_A, K_ECHO_B, K_RELAY, K_SVC_A, K_SVC_B, K_COUNT };
static const char *const kind_names[] = {"echo-a", "echo-b", "relay", "svc-a", "svc-b"};

/* How a chain ended. */
enum { END_NONE, END_DRAINED, END_ABRUPT, END_FAILED };

typedef struct chain_s {
  struct chain_s *next; /* every chain there was, for the end's checks */
  int kind;
  int opening; /* svc: the open is under way */
  int draining;
  int ending; /* c asked for the end: drained or abrupt */
  int how;    /* END_* once it ended */
  int ends;   /* end callbacks run: 1 */
  int blocked;
  int failed_before_kill; /* it failed while b had never been killed */
  uva_remote_actor_t ra;
  uva_remote_req_t req;
  uva_port_t port;
  int open_status;
  int exit_code;
  char error[160];
  int down_status; /* svc: the UVA_NODE_CHANNEL_DOWN event's, or 0 */
  uint64_t posted;
  uint64_t delivered;
  uint64_t order_errors;
  uint64_t buffer_errors;
} chain_t;

static struct {
  uv_loop_t *loop;
  uva_node_t node;
  uv_timer_t tick;
  uint64_t rng;
  uint64_t seed;
  double seconds;
  int nslots;
  chain_t *slots[MAX_SLOTS];
  chain_t *all;
  uint64_t start_ms;
  uint64_t stop_ms; /* 0 until the run stops */
  node_proc_t a, b;
  char dir[64];
  char a_endpoint[128];
  char b_endpoint[128];
  int b_up;      /* c's session with b */
  int killed;    /* b was killed */
  int restarted; /* and started again */
  uint64_t killed_ms;
  int closed;
  int hung;
  uint64_t chains;
  uint64_t buffers;
} g;

static uint64_t elapsed_ms(void) {
  return uv_now(g.loop) - g.start_ms;
}

static int through_b(int kind) {
  return kind == K_ECHO_B || kind == K_RELAY || kind == K_SVC_B;
}

static int is_actor(int kind) {
  return kind == K_ECHO_A || kind == K_ECHO_B || kind == K_RELAY;
}

static uva_port_t *chain_port(chain_t *ch) {
  return is_actor(ch->kind) ? uva_remote_actor_port(&ch->ra) : ch->opening ? NULL : &ch->port;
}

/* ---- messages ------------------------------------------------------------------------------------ */

static unsigned char stamp(uint64_t seq, size_t i) {
  return (unsigned char)(seq * 7 + i);
}

static uva_msg_t *data_msg(uint64_t seq) {
  static const char pad[PAD_MAX] = {0};
  msgpack_packer *pk;
  unsigned char *buf;
  uva_msg_t *msg;
  size_t pad_len = next_random(&g.rng) % PAD_MAX;
  size_t i;

  MUST(uva_msg_new(&msg));
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, seq % BUF_EVERY == 0 ? 3 : 2);
  msgpack_pack_uint64(pk, seq);
  msgpack_pack_bin_with_body(pk, pad, pad_len);
  if (seq % BUF_EVERY == 0) {
    buf = malloc(BUF_SIZE);
    if (buf == NULL)
      MUST(UV_ENOMEM);
    for (i = 0; i < BUF_SIZE; i++)
      buf[i] = stamp(seq, i);
    MUST(uva_msg_pack_buffer(msg, buf, BUF_SIZE, free));
  }
  return msg;
}

static void on_echo(chain_t *ch, uva_msg_t *msg) {
  msgpack_object obj;
  void *data;
  size_t len;
  size_t i;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size < 2 ||
      obj.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      obj.via.array.ptr[0].via.u64 != ch->delivered) {
    ch->order_errors++;
  } else if (obj.via.array.size == 3) {
    if (uva_msg_take_buffer(msg, &obj.via.array.ptr[2], &data, &len, NULL) != 0) {
      ch->buffer_errors++;
    } else {
      for (i = 0; i < len && ((unsigned char *)data)[i] == stamp(ch->delivered, i); i++)
        ;
      ch->buffer_errors += len != BUF_SIZE || i != len;
      g.buffers++;
      free(data);
    }
  }
  ch->delivered++;
  uva_msg_free(msg);
}

/* ---- a chain's life ------------------------------------------------------------------------------ */

static void chain_ended(chain_t *ch) {
  int k;

  ch->ends++;
  if (ch->ends > 1)
    return;
  ch->how = ch->ending ? (ch->draining ? END_DRAINED : END_ABRUPT) : END_FAILED;
  if (ch->how == END_FAILED && !g.killed)
    ch->failed_before_kill = 1;
  for (k = 0; k < g.nslots; k++)
    if (g.slots[k] == ch)
      g.slots[k] = NULL;
}

static void on_actor_message(uva_remote_actor_t *ra, uva_msg_t *msg) {
  on_echo(ra->data, msg);
}

static void on_actor_error(uva_remote_actor_t *ra, const char *text) {
  chain_t *ch = ra->data;

  snprintf(ch->error, sizeof(ch->error), "%s", text);
}

static void on_actor_exit(uva_remote_actor_t *ra, int code) {
  chain_t *ch = ra->data;

  ch->exit_code = code;
  chain_ended(ch);
}

static void on_port_message(uva_port_t *port, uva_msg_t *msg) {
  on_echo(port->data, msg);
}

static void on_port_closed(uva_port_t *port) {
  chain_ended(port->data);
}

static void on_opened(uva_remote_req_t *req, int status) {
  chain_t *ch = req->data;

  ch->opening = 0;
  ch->open_status = status;
  if (status != 0) {
    chain_ended(ch); /* the port is no port: nothing was posted on it */
    return;
  }
  ch->port.data = ch;
  MUST(uva_port_start(&ch->port, g.loop, on_port_message, on_port_closed));
  if (ch->ending) /* asked while it opened */
    uva_port_close(&ch->port);
}

static void chain_start(int slot) {
  uva_remote_actor_options_t options = {0};
  chain_t *ch = calloc(1, sizeof(*ch));
  int kind;

  if (ch == NULL)
    MUST(UV_ENOMEM);
  do
    kind = (int)(next_random(&g.rng) % K_COUNT);
  while (through_b(kind) && !g.b_up);
  ch->kind = kind;
  ch->next = g.all;
  g.all = ch;
  g.slots[slot] = ch;
  g.chains++;
  if (is_actor(kind)) {
    options.message_cb = on_actor_message;
    options.error_cb = on_actor_error;
    options.exit_cb = on_actor_exit;
    options.timeout_ms = 3000 * remote_slowdown();
    if (kind == K_RELAY) {
      MUST(uva_msg_new(&options.init));
      msgpack_pack_str_with_body(uva_msg_packer(options.init), "b", 1);
    }
    ch->ra.data = ch;
    MUST(uva_remote_spawn(&ch->ra, g.loop, &g.node, kind == K_ECHO_B ? "b" : "a",
                          kind == K_RELAY ? "relay" : "echo", &options));
  } else {
    ch->opening = 1;
    ch->req.data = ch;
    MUST(uva_remote_open(&ch->req, g.loop, &g.node, kind == K_SVC_A ? "a" : "b", "svc", 3000, on_opened,
                         &ch->port));
  }
}

static void chain_end(chain_t *ch) {
  ch->ending = 1;
  if (is_actor(ch->kind))
    (void)uva_remote_terminate(&ch->ra); /* UV_EALREADY once it ended by itself */
  else if (!ch->opening)
    (void)uva_port_close(&ch->port);
}

static void post_burst(chain_t *ch);

static void on_writable(uva_port_t *port) {
  chain_t *ch = port->data;

  ch->blocked = 0;
  if (!ch->draining)
    post_burst(ch);
}

static void post_burst(chain_t *ch) {
  uva_port_t *port = chain_port(ch);
  int n = 1 + (int)(next_random(&g.rng) % BURST_MAX);
  uva_msg_t *msg;
  int err;

  while (port != NULL && n-- > 0 && !ch->blocked) {
    msg = data_msg(ch->posted);
    err = uva_port_post(port, msg);
    if (err == 0) {
      ch->posted++;
      continue;
    }
    uva_msg_free(msg);
    if (err == UV_EAGAIN) {
      port->data = ch;
      if (uva_port_on_writable(port, on_writable) == 0)
        ch->blocked = 1;
    }
    return; /* UV_EPIPE: the chain is ending; its end callback says why */
  }
}

/* ---- the run ------------------------------------------------------------------------------------- */

static void on_node_event(uva_node_t *node, const uva_node_event_t *ev) {
  chain_t *ch;

  (void)node;
  if (ev->type == UVA_NODE_PEER_UP && strcmp(ev->peer, "b") == 0)
    g.b_up = 1;
  else if (ev->type == UVA_NODE_PEER_DOWN && strcmp(ev->peer, "b") == 0)
    g.b_up = 0;
  else if (ev->type == UVA_NODE_CHANNEL_DOWN)
    for (ch = g.all; ch != NULL; ch = ch->next)
      if (!is_actor(ch->kind) && ch->req.channel == ev->channel)
        ch->down_status = ev->status;
}

static void on_node_closed(uva_node_t *node) {
  (void)node;
  g.closed = 1;
}

static void restart_b(void) {
  const char *args[] = {"b", g.b_endpoint, "plain", NULL};

  if (node_proc_start(&g.b, args) != 0) {
    printf("Bail out! b did not start again\n");
    exit(1);
  }
}

static void on_tick(uv_timer_t *timer) {
  uint64_t now = elapsed_ms();
  chain_t *ch;
  int live = 0;
  int k;

  if (g.stop_ms == 0 && now >= (uint64_t)(g.seconds * 1000)) {
    g.stop_ms = now;
    for (k = 0; k < g.nslots; k++)
      if (g.slots[k] != NULL && !g.slots[k]->ending) /* one ending abruptly stays an abrupt end */
        g.slots[k]->draining = 1;
  }
  if (!g.killed && now >= (uint64_t)(g.seconds * 1000) / 3) {
    g.killed = 1;
    g.killed_ms = now;
    (void)node_proc_kill(&g.b, SIGKILL);
  }
  if (g.killed && !g.restarted && now >= g.killed_ms + RESTART_AFTER_MS) {
    g.restarted = 1;
    restart_b();
  }
  for (k = 0; k < g.nslots; k++) {
    ch = g.slots[k];
    if (ch == NULL) {
      if (g.stop_ms == 0)
        chain_start(k);
      continue;
    }
    live++;
    if (ch->ending)
      continue;
    if (ch->draining) {
      if (ch->delivered == ch->posted && !ch->opening)
        chain_end(ch);
      continue;
    }
    if (!ch->blocked)
      post_burst(ch);
    if (chance(&g.rng, P_DRAIN)) {
      ch->draining = 1;
    } else if (chance(&g.rng, P_ABRUPT)) {
      chain_end(ch);
    }
  }
  if (g.stop_ms != 0 && live == 0) {
    uv_timer_stop(timer);
    MUST(uva_node_close(&g.node, on_node_closed));
  } else if (g.stop_ms != 0 && now > g.stop_ms + DRAIN_GUARD_MS) {
    g.hung = 1;
    for (k = 0; k < g.nslots; k++)
      if ((ch = g.slots[k]) != NULL)
        fprintf(stderr, "# %s chain did not end: %" PRIu64 " delivered of %" PRIu64 "%s%s%s\n",
                kind_names[ch->kind], ch->delivered, ch->posted, ch->blocked ? ", blocked" : "",
                ch->opening ? ", opening" : "", ch->ending ? ", ending" : "");
    uv_timer_stop(timer);
    MUST(uva_node_close(&g.node, on_node_closed));
  }
}

static void start_nodes(void) {
  const char *b_args[] = {"b", g.b_endpoint, "plain", NULL};
  const char *a_args[] = {"a", g.a_endpoint, "plain", "-c", g.b_endpoint, "b", NULL};

  snprintf(g.dir, sizeof(g.dir), "/tmp/uva-stress-remote.XXXXXX");
  if (mkdtemp(g.dir) == NULL) {
    printf("Bail out! mkdtemp failed\n");
    exit(1);
  }
  snprintf(g.a_endpoint, sizeof(g.a_endpoint), "ipc://%s/a", g.dir);
  snprintf(g.b_endpoint, sizeof(g.b_endpoint), "ipc://%s/b", g.dir);
  /* a's transport runs on its loop (uva_node_options_t.on_loop), as c's does; b's is an actor. */
  setenv("UVA_TEST_ON_LOOP", "1", 1);
  if (node_proc_start(&g.a, a_args) != 0) {
    printf("Bail out! remote_node did not start (is UVA_TOP_BUILDDIR the build directory?)\n");
    exit(1);
  }
  unsetenv("UVA_TEST_ON_LOOP");
  if (node_proc_start(&g.b, b_args) != 0) {
    printf("Bail out! remote_node did not start (is UVA_TOP_BUILDDIR the build directory?)\n");
    exit(1);
  }
}

static void remove_dir(void) {
  char path[128];

  snprintf(path, sizeof(path), "%s/a", g.dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/b", g.dir);
  unlink(path);
  rmdir(g.dir);
}

/* One TAP line; 1 if it failed. */
static int tap(int n, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int tap(int n, int ok, const char *fmt, ...) {
  va_list ap;

  printf("%s %d - ", ok ? "ok" : "not ok", n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  return !ok;
}

/* A chain's cause, when it lost messages without c ending it: what it was told. */
static int cause_reported(const chain_t *ch) {
  if (is_actor(ch->kind))
    return ch->exit_code == UVA_EXIT_DISCONNECTED || ch->exit_code == UV_ETIMEDOUT ||
           ch->exit_code == UV_ECONNRESET || ch->exit_code == UV_ECONNREFUSED ||
           (ch->kind == K_RELAY && ch->exit_code == RELAY_LOST && ch->error[0] != '\0');
  return ch->open_status != 0 || ch->down_status != 0;
}

int main(int argc, char **argv) {
  uva_node_options_t options = {.name = "c", .plaintext = 1, .heartbeat_ms = 100};
  uint64_t posted = 0, delivered = 0, lost_abrupt = 0, lost_failed = 0;
  uint64_t order = 0, buffer_errors = 0, bad_ends = 0, undrained = 0, unreported = 0, a_failed = 0;
  uint64_t per_kind[K_COUNT] = {0}, failed = 0;
  int status_a, status_b;
  int bad = 0;
  chain_t *ch;
  chain_t *next;

  g.seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)env_number("UVA_STRESS_SEED", 0);
  if (g.seed == 0)
    g.seed = uv_hrtime() | 1;
  g.rng = g.seed;
  g.seconds = env_number("UVA_STRESS_SECONDS", 3);
  g.nslots = (int)env_number("UVA_STRESS_CHAINS", 8);
  if (g.nslots < 1 || g.nslots > MAX_SLOTS)
    g.nslots = 8;
  printf("1..7\n# seed %" PRIu64 " (UVA_STRESS_SEED=%" PRIu64 " or argv[1] to replay), %.3g s, %d chains\n",
         g.seed, g.seed, g.seconds, g.nslots);
  fflush(stdout);
  signal(SIGPIPE, SIG_IGN);
  start_nodes();
  g.loop = uv_default_loop();
  options.event_cb = on_node_event;
  /* b's death is seen at once, by ZeroMQ's disconnect; heartbeats that a loaded machine delays must not
   * lose a or b too. */
  options.timeout_ms = 60000 * remote_slowdown();
  options.on_loop = 1;
  MUST(uva_node_init(&g.node, g.loop, &options));
  MUST(uva_node_connect(&g.node, g.a.endpoint, NULL));
  MUST(uva_node_connect(&g.node, g.b.endpoint, NULL));
  g.start_ms = uv_now(g.loop);
  MUST(uv_timer_init(g.loop, &g.tick));
  MUST(uv_timer_start(&g.tick, on_tick, TICK_MS, TICK_MS));
  uv_run(g.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&g.tick, NULL);
  uv_run(g.loop, UV_RUN_DEFAULT);
  status_a = node_proc_stop(&g.a);
  status_b = node_proc_stop(&g.b);
  remove_dir();

  for (ch = g.all; ch != NULL; ch = next) {
    next = ch->next;
    per_kind[ch->kind]++;
    posted += ch->posted;
    delivered += ch->delivered;
    order += ch->order_errors;
    buffer_errors += ch->buffer_errors;
    if (ch->ends != 1 || ch->delivered > ch->posted) {
      bad_ends++;
      fprintf(stderr, "# %s chain: %d ends, %" PRIu64 " delivered of %" PRIu64 "\n", kind_names[ch->kind],
              ch->ends, ch->delivered, ch->posted);
    }
    if (ch->how == END_DRAINED && ch->delivered != ch->posted)
      undrained++;
    if (ch->how == END_ABRUPT)
      lost_abrupt += ch->posted - ch->delivered;
    if (ch->how == END_FAILED) {
      failed++;
      lost_failed += ch->posted - ch->delivered;
      if (!cause_reported(ch)) {
        unreported++;
        fprintf(stderr,
                "# %s chain failed without a cause: exit %d, open %d, down %d, %" PRIu64 " of %" PRIu64 "\n",
                kind_names[ch->kind], ch->exit_code, ch->open_status, ch->down_status, ch->delivered,
                ch->posted);
      }
      if (!through_b(ch->kind) || ch->failed_before_kill) {
        a_failed++;
        fprintf(stderr, "# %s chain failed (exit %d: %s, open %d, down %d)\n", kind_names[ch->kind],
                ch->exit_code, ch->error, ch->open_status, ch->down_status);
      }
    }
    free(ch);
  }
  printf("# chains %" PRIu64 " (echo-a %" PRIu64 ", echo-b %" PRIu64 ", relay %" PRIu64 ", svc-a %" PRIu64
         ", svc-b %" PRIu64 "), failed %" PRIu64 "; posted %" PRIu64 ", delivered %" PRIu64
         ", lost to abrupt ends %" PRIu64 ", lost to b's death %" PRIu64 ", moved buffers %" PRIu64 "\n",
         g.chains, per_kind[K_ECHO_A], per_kind[K_ECHO_B], per_kind[K_RELAY], per_kind[K_SVC_A],
         per_kind[K_SVC_B], failed, posted, delivered, lost_abrupt, lost_failed, g.buffers);
  bad += tap(1, bad_ends == 0 && g.closed && !g.hung, "every chain ended exactly once, and c's node closed%s",
             g.hung ? " (it did not drain within 20 s)" : "");
  bad += tap(2, order == 0, "every echo came back in order, once (%" PRIu64 " delivered)", delivered);
  bad += tap(3, undrained == 0, "every drained chain delivered all it posted (posted = delivered)");
  bad += tap(4, unreported == 0 && posted == delivered + lost_abrupt + lost_failed,
             "posted = delivered + lost, and every loss had a cause the program was told (%" PRIu64
             " by its own ends, %" PRIu64 " by b's death)",
             lost_abrupt, lost_failed);
  bad += tap(5, a_failed == 0, "only chains through b failed, and only after it was killed");
  bad += tap(6, buffer_errors == 0, "moved buffers came back whole (%" PRIu64 ")", g.buffers);
  bad += tap(7, status_a == 0 && status_b == 0, "a and b ended cleanly (status %d, %d)", status_a, status_b);
  uv_loop_close(g.loop);
  return bad == 0 ? 0 : 1;
}
