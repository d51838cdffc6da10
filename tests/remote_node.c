/* A node for the remote tests (tests/test_remote.c, tests/stress_remote.c, tests/remote_peer.py): it
 * listens, says where on stdout, serves the actor mains below, and runs until its stdin closes (or a signal
 * ends it: the tests kill it to see a peer die).
 *
 *   remote_node NAME ENDPOINT [plain | SECRET PUBLIC ALLOWED...] [-c OTHER_ENDPOINT OTHER_NAME [SERVER_KEY]]
 *
 * prints "listening ENDPOINT" once it listens; with -c it also connects to another node and, once the
 * session is up, prints "up OTHER_NAME". Events go to stderr.
 *
 * Mains:
 *   echo     posts every message back to its parent, unchanged (moved buffers too), and answers calls:
 *            the request's body back as the reply; "fail": the error 7, "asked to fail"; "drop": freed
 *            unanswered (UV_ECONNRESET); "hold": kept unanswered until a channel of its thread closes;
 *            "close": closes the port it came on, unanswered; "census": [channels open to "svc", echo
 *            actors running, "tally" channels closed, then each tally channel's count and order errors], to
 *            see that nothing was left behind
 *   count    [seq, ...] messages: checks that seq goes 0, 1, 2 ... and answers nil with [count, errors]
 *   full     bounds its queue to 4 messages and reads nothing, so a sender sees the bound through the
 *            window; it runs until it is terminated
 *   small    echo, its queue bounded to 1000 bytes of bodies: a bigger message is refused by itself
 *   fail     fails at once with the text of its init message (a str) and exit code 7
 *   relay    spawns echo on the node its init message names (a str) and relays both ways, with
 *            backpressure (a full side pauses the other); when that echo ends under it, it fails with
 *            exit code 9 and a text that says how the echo ended (tests/stress_remote.c)
 *
 * Names: an actor of its own registers "svc" and echoes what comes on every channel opened to it; the same
 * actor registers "tally": its channels (two at most) count [seq, ...] messages and post each back (as
 * far as the window lets them: the rest are dropped), and the first message on either holds the actor's
 * loop until SIGUSR1 comes, so that what the opener posts meanwhile waits on the opener's side for credit
 * (tests/test_remote.c's test_node_close_sends_what_ports_hold); census reports what they counted.
 *
 * Heartbeats go every 100 ms; a peer silent for 60 s is lost, so that a slow machine is never taken for a
 * lost peer (one killed, or whose connection broke, is lost at once by ZeroMQ's disconnect), or for
 * UVA_NODE_TIMEOUT_MS where a test loses a peer by its heartbeats (tests/remote_partition.sh); either up to
 * 10 times longer in sanitized builds and under valgrind (tests/remote_timing.h). UVA_NODE_MAX_MESSAGE
 * sets max_message (tests/test_remote.c's test_max_message_*), UVA_NODE_LINGER_MS linger_ms (scaled the
 * same way: tests/remote_peer.py's node close).
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote_timing.h"
#include "uvactor.h"
#include "uvactor/remote.h"

static uva_node_t node;
static uv_loop_t *loop;
static uv_pipe_t in;
static const char *other_name;
static uva_actor_t svc_actor;

/* Requests told to "hold", per thread: freed (unanswered) when a port of the thread closes. */
#define HELD_MAX 64
static __thread uva_msg_t *held[HELD_MAX];

static void drop_held(uva_port_t *port) {
  int i;

  (void)port;
  for (i = 0; i < HELD_MAX; i++) {
    uva_msg_free(held[i]);
    held[i] = NULL;
  }
}

static int body_is(uva_msg_t *msg, const char *text) {
  msgpack_object obj;

  return uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_STR &&
         obj.via.str.size == strlen(text) && memcmp(obj.via.str.ptr, text, obj.via.str.size) == 0;
}

/* What "census" answers. */
static atomic_int svc_open;
static atomic_int echoes_running;

#define TALLY_PORTS 2

static struct {
  uva_name_t name;
  uva_port_t ports[TALLY_PORTS];
  int nports;
  int gated;
  atomic_uint_fast64_t count[TALLY_PORTS];
  atomic_uint_fast64_t errors[TALLY_PORTS];
  atomic_int closed;
} tally;
static sem_t tally_gate;

static void answer_census(uva_msg_t *request) {
  msgpack_packer *pk;
  uva_msg_t *reply;
  int i;

  if (uva_msg_new(&reply) != 0)
    return;
  pk = uva_msg_packer(reply);
  msgpack_pack_array(pk, 3 + 2 * TALLY_PORTS);
  msgpack_pack_int(pk, atomic_load(&svc_open));
  msgpack_pack_int(pk, atomic_load(&echoes_running));
  msgpack_pack_int(pk, atomic_load(&tally.closed));
  for (i = 0; i < TALLY_PORTS; i++) {
    msgpack_pack_uint64(pk, atomic_load(&tally.count[i]));
    msgpack_pack_uint64(pk, atomic_load(&tally.errors[i]));
  }
  if (uva_msg_reply(request, reply) != 0)
    uva_msg_free(reply);
}

static void answer_call(uva_port_t *port, uva_msg_t *request) {
  uva_msg_t *reply;
  int i;

  if (body_is(request, "close")) {
    uva_port_close(port);
  } else if (body_is(request, "census")) {
    answer_census(request);
  } else if (body_is(request, "fail")) {
    uva_msg_reply_error(request, 7, "asked to fail");
  } else if (body_is(request, "hold")) {
    for (i = 0; i < HELD_MAX && held[i] != NULL; i++)
      ;
    if (i < HELD_MAX) {
      held[i] = request;
      return;
    }
  } else if (!body_is(request, "drop") &&
             uva_msg_from_bytes(&reply, uva_msg_data(request), uva_msg_size(request), NULL) == 0 &&
             uva_msg_reply(request, reply) != 0) {
    uva_msg_free(reply);
  }
  uva_msg_free(request);
}

/* A remote parent's window bounds what an actor may have in flight to it: echo waits for room. */
static void on_echo(uva_port_t *port, uva_msg_t *msg) {
  if (uva_msg_is_call(msg))
    answer_call(port, msg);
  else if (uva_port_post_wait(port, msg, UVA_WAIT_FOREVER) != 0)
    uva_msg_free(msg);
}

static void echo_closed(uva_port_t *port) {
  drop_held(port);
  atomic_fetch_sub(&echoes_running, 1);
}

static int main_echo(uva_self_t *self) {
  if (uva_port_start(uva_self_port(self), uva_self_loop(self), on_echo, echo_closed) != 0)
    return 1;
  atomic_fetch_add(&echoes_running, 1);
  return 0;
}

typedef struct {
  uint64_t count;
  uint64_t errors;
} count_state_t;

static void on_count(uva_port_t *port, uva_msg_t *msg) {
  count_state_t *st = port->data;
  msgpack_object obj;
  uva_msg_t *reply;

  if (uva_msg_object(msg, &obj) != 0 || obj.type == MSGPACK_OBJECT_NIL) {
    if (uva_msg_new(&reply) == 0) {
      msgpack_pack_array(uva_msg_packer(reply), 2);
      msgpack_pack_uint64(uva_msg_packer(reply), st->count);
      msgpack_pack_uint64(uva_msg_packer(reply), st->errors);
      if (uva_port_post(port, reply) != 0)
        uva_msg_free(reply);
    }
  } else if (obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size >= 1 &&
             obj.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
    if (obj.via.array.ptr[0].via.u64 != st->count)
      st->errors++;
    st->count++;
  } else {
    st->errors++;
  }
  uva_msg_free(msg);
}

static int main_count(uva_self_t *self) {
  static __thread count_state_t st;

  memset(&st, 0, sizeof(st));
  uva_self_port(self)->data = &st;
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_count, NULL) == 0 ? 0 : 1;
}

static void on_full_timer(uv_timer_t *timer) {
  (void)timer;
}

/* Reads nothing: its port is never started, so its parent's posts fill its queue (bounded to 4), then the
 * window behind it, until it is terminated. A timer keeps its loop alive meanwhile. */
static int main_full(uva_self_t *self) {
  static __thread uv_timer_t timer;

  uva_port_set_limits(uva_self_port(self), 4, 0);
  uv_timer_init(uva_self_loop(self), &timer);
  uv_timer_start(&timer, on_full_timer, 3600000, 3600000);
  return 0;
}

/* echo, with its queue bounded to SMALL_MAX_BYTES of bodies: a bigger message is refused by itself. */
#define SMALL_MAX_BYTES 1000

static int main_small(uva_self_t *self) {
  uva_port_set_limits(uva_self_port(self), 0, SMALL_MAX_BYTES);
  return main_echo(self);
}

static int main_fail(uva_self_t *self) {
  uva_msg_t *init = uva_self_init(self);
  msgpack_object obj;
  char text[256] = "failed";

  if (init != NULL && uva_msg_object(init, &obj) == 0 && obj.type == MSGPACK_OBJECT_STR &&
      obj.via.str.size < sizeof(text)) {
    memcpy(text, obj.via.str.ptr, obj.via.str.size);
    text[obj.via.str.size] = 0;
  }
  uva_msg_free(init);
  uva_self_fail(self, 7, text);
  return 7;
}

/* relay: this node's actor, and its remote actor on another node. Per thread: an actor's state lives as
 * long as its thread. A side that is full holds one message back and pauses the side it came from, until
 * its writable callback. */
typedef struct {
  uva_port_t *to;
  uva_port_t *from;
  uva_msg_t *held;
} relay_dir_t;

typedef struct {
  uva_self_t *self;
  uva_remote_actor_t ra;
  uva_port_t *parent;
  int parent_closed;
  relay_dir_t up;   /* echo -> parent */
  relay_dir_t down; /* parent -> echo */
} relay_t;

static __thread relay_t relay;

static void relay_flush(relay_dir_t *dir, uva_port_writable_cb writable) {
  int err = uva_port_post(dir->to, dir->held);

  if (err == UV_EAGAIN && uva_port_on_writable(dir->to, writable) == 0) {
    uva_port_pause(dir->from);
    return;
  }
  if (err != 0)
    uva_msg_free(dir->held); /* the side closed: its end says why */
  dir->held = NULL;
  uva_port_resume(dir->from);
}

static void on_relay_up_writable(uva_port_t *port) {
  (void)port;
  relay_flush(&relay.up, on_relay_up_writable);
}

static void on_relay_down_writable(uva_port_t *port) {
  (void)port;
  relay_flush(&relay.down, on_relay_down_writable);
}

static void on_relay_from_parent(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  relay.down.held = msg;
  relay_flush(&relay.down, on_relay_down_writable);
}

static void on_relay_from_echo(uva_remote_actor_t *ra, uva_msg_t *msg) {
  (void)ra;
  relay.up.held = msg;
  relay_flush(&relay.up, on_relay_up_writable);
}

/* What was held back goes nowhere once either side ended. */
static void relay_drop_held(void) {
  uva_msg_free(relay.up.held);
  uva_msg_free(relay.down.held);
  relay.up.held = relay.down.held = NULL;
}

static void on_relay_parent_closed(uva_port_t *port) {
  (void)port;
  relay.parent_closed = 1;
  relay_drop_held();
  uva_remote_terminate(&relay.ra);
}

/* The echo ended: under the relay (its node lost, or it failed), which then fails; or because the relay
 * ends (terminated, or its parent closed): its teardown closes the echo's ports. */
static void on_relay_echo_exit(uva_remote_actor_t *ra, int code) {
  char text[128];

  (void)ra;
  relay_drop_held();
  if (relay.parent_closed || uva_self_should_stop(relay.self))
    return;
  snprintf(text, sizeof(text), "relay: its echo ended with %d (%s)", code,
           code < 0 ? uva_err_name(code) : "");
  uva_self_fail(relay.self, 9, text);
  uva_port_close(relay.parent);
}

static int main_relay(uva_self_t *self) {
  uva_remote_actor_options_t options = {.message_cb = on_relay_from_echo, .exit_cb = on_relay_echo_exit};
  uva_msg_t *init = uva_self_init(self);
  msgpack_object obj;
  char peer[UVA_NODE_NAME_MAX + 1] = "";
  int err;

  if (init != NULL && uva_msg_object(init, &obj) == 0 && obj.type == MSGPACK_OBJECT_STR &&
      obj.via.str.size < sizeof(peer)) {
    memcpy(peer, obj.via.str.ptr, obj.via.str.size);
    peer[obj.via.str.size] = 0;
  }
  uva_msg_free(init);
  memset(&relay, 0, sizeof(relay));
  relay.self = self;
  relay.parent = uva_self_port(self);
  err = uva_remote_spawn(&relay.ra, uva_self_loop(self), &node, peer, "echo", &options);
  relay.up.to = relay.down.from = relay.parent;
  relay.up.from = relay.down.to = uva_remote_actor_port(&relay.ra);
  if (err == 0)
    err = uva_port_start(relay.parent, uva_self_loop(self), on_relay_from_parent, on_relay_parent_closed);
  if (err != 0)
    uva_self_fail(self, 1, uva_strerror(err));
  return err == 0 ? 0 : 1;
}

/* The "svc" name: each channel opened to it echoes, until its opener closes it. */
#define SVC_CHANNELS 64

typedef struct {
  uva_name_t name;
  uva_port_t ports[SVC_CHANNELS];
  int used[SVC_CHANNELS];
} svc_t;

static void svc_port_closed(uva_port_t *port) {
  drop_held(port);
  ((int *)port->data)[0] = 0;
  atomic_fetch_sub(&svc_open, 1);
}

static void svc_accept(uva_name_t *name) {
  svc_t *svc = name->data;
  int i;

  for (i = 0; i < SVC_CHANNELS && svc->used[i]; i++)
    ;
  if (i == SVC_CHANNELS || uva_name_accept(name, &svc->ports[i]) != 0)
    return; /* refused: the opener gets UV_ECONNREFUSED */
  svc->ports[i].data = &svc->used[i];
  if (uva_port_start(&svc->ports[i], name->loop, on_echo, svc_port_closed) != 0) {
    uva_port_close(&svc->ports[i]); /* never started: closed at once, the opener sees the close */
    return;
  }
  svc->used[i] = 1;
  atomic_fetch_add(&svc_open, 1);
}

static void on_tally(uva_port_t *port, uva_msg_t *msg) {
  int i = (int)(port - tally.ports);
  msgpack_object obj;

  if (!tally.gated) {
    tally.gated = 1;
    while (sem_wait(&tally_gate) != 0 && errno == EINTR)
      ;
  }
  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size == 0 ||
      obj.via.array.ptr[0].via.u64 != atomic_load(&tally.count[i]))
    atomic_fetch_add(&tally.errors[i], 1);
  atomic_fetch_add(&tally.count[i], 1);
  if (uva_port_post(port, msg) != 0)
    uva_msg_free(msg);
}

static void tally_closed(uva_port_t *port) {
  (void)port;
  atomic_fetch_add(&tally.closed, 1);
}

static void tally_accept(uva_name_t *name) {
  uva_port_t *port = &tally.ports[tally.nports];

  if (tally.nports == TALLY_PORTS || uva_name_accept(name, port) != 0)
    return;
  tally.nports++;
  if (uva_port_start(port, name->loop, on_tally, tally_closed) != 0)
    uva_port_close(port);
}

static void on_usr1(int sig) {
  (void)sig;
  sem_post(&tally_gate); /* async-signal-safe */
}

/* Registers "svc", then says so to main, which listens only then: no open finds the name missing. */
static int main_svc(uva_self_t *self) {
  static svc_t svc;
  uva_msg_t *ready;

  svc.name.data = &svc;
  if (uva_name_register(&svc.name, uva_self_loop(self), "svc", svc_accept) != 0 ||
      uva_name_register(&tally.name, uva_self_loop(self), "tally", tally_accept) != 0 ||
      uva_msg_new(&ready) != 0)
    return 1;
  msgpack_pack_nil(uva_msg_packer(ready));
  if (uva_port_post(uva_self_port(self), ready) != 0)
    uva_msg_free(ready);
  return 0;
}

static void on_event(uva_node_t *n, const uva_node_event_t *ev) {
  (void)n;
  fprintf(stderr, "remote_node: event %d peer=%s endpoint=%s channel=%llu status=%s: %s\n", (int)ev->type,
          ev->peer != NULL ? ev->peer : "-", ev->endpoint != NULL ? ev->endpoint : "-",
          (unsigned long long)ev->channel, uva_err_name(ev->status), ev->text != NULL ? ev->text : "");
  if (ev->type == UVA_NODE_PEER_UP && other_name != NULL && strcmp(ev->peer, other_name) == 0) {
    printf("up %s\n", other_name);
    fflush(stdout);
  }
}

static void on_closed(uva_node_t *n) {
  (void)n;
}

static void on_stdin(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  free(buf->base);
  if (nread >= 0)
    return;
  uv_read_stop(stream);
  uv_close((uv_handle_t *)stream, NULL);
  uva_node_close(&node, on_closed);
  uva_actor_terminate(&svc_actor);
}

static void alloc_cb(uv_handle_t *handle, size_t size, uv_buf_t *buf) {
  (void)handle;
  buf->base = malloc(size);
  buf->len = buf->base != NULL ? size : 0;
}

int main(int argc, char **argv) {
  static const uva_remote_main_t mains[] = {{"echo", main_echo}, {"count", main_count},
                                            {"full", main_full}, {"small", main_small},
                                            {"fail", main_fail}, {"relay", main_relay}};
  uva_node_options_t options = {0};
  const char *connect_to = NULL;
  const char *server_key = NULL;
  const char *timeout = getenv("UVA_NODE_TIMEOUT_MS");
  const char *max_message = getenv("UVA_NODE_MAX_MESSAGE");
  const char *linger = getenv("UVA_NODE_LINGER_MS");
  uva_msg_t *ready;
  char bound[256];
  int i = 3;
  int err;

  signal(SIGPIPE, SIG_IGN);
  sem_init(&tally_gate, 0, 0);
  signal(SIGUSR1, on_usr1);
  if (argc < 4) {
    fprintf(stderr,
            "usage: remote_node NAME ENDPOINT plain|SECRET PUBLIC ALLOWED... [-c ENDPOINT NAME [KEY]]\n");
    return 2;
  }
  options.name = argv[1];
  options.mains = mains;
  options.nmains = sizeof(mains) / sizeof(mains[0]);
  options.event_cb = on_event;
  options.heartbeat_ms = 100;
  options.on_loop = remote_on_loop();
  options.timeout_ms =
      (timeout != NULL ? (unsigned int)strtoul(timeout, NULL, 10) : 60000) * remote_slowdown();
  options.max_message = max_message != NULL ? (size_t)strtoull(max_message, NULL, 10) : 0;
  options.linger_ms = linger != NULL ? (unsigned int)strtoul(linger, NULL, 10) * remote_slowdown() : 0;
  if (strcmp(argv[3], "plain") == 0) {
    options.plaintext = 1;
    i = 4;
  } else {
    static const char *allow[16];
    int n = 0;
    options.secret_key = argv[3];
    options.public_key = argv[4];
    for (i = 5; i < argc && strcmp(argv[i], "-c") != 0 && n < 15; i++)
      allow[n++] = argv[i];
    options.allow = allow;
  }
  if (i < argc && strcmp(argv[i], "-c") == 0 && i + 2 < argc) {
    connect_to = argv[i + 1];
    other_name = argv[i + 2];
    server_key = i + 3 < argc ? argv[i + 3] : NULL;
  }
  loop = uv_default_loop();
  err = uva_actor_spawn(&svc_actor, NULL, main_svc, NULL);
  if (err == 0 && (err = uva_port_receive_wait(uva_actor_port(&svc_actor), &ready, 10000)) == 0)
    uva_msg_free(ready);
  if (err == 0)
    err = uva_node_init(&node, loop, &options);
  if (err == 0)
    err = uva_node_listen(&node, argv[2], bound, sizeof(bound));
  if (err != 0) {
    fprintf(stderr, "remote_node: %s\n", uva_strerror(err));
    return 1;
  }
  printf("listening %s\n", bound);
  fflush(stdout);
  if (connect_to != NULL && (err = uva_node_connect(&node, connect_to, server_key)) != 0) {
    fprintf(stderr, "remote_node: connect: %s\n", uva_strerror(err));
    return 1;
  }
  uv_pipe_init(loop, &in, 0);
  uv_pipe_open(&in, 0);
  uv_read_start((uv_stream_t *)&in, alloc_cb, on_stdin);
  uv_run(loop, UV_RUN_DEFAULT);
  uva_actor_join(&svc_actor, UVA_WAIT_FOREVER, NULL);
  uv_loop_close(loop);
  return 0;
}
