/* Between two processes: remote-pingpong, remote-throughput and remote-bigmsg over the remote transport,
 * remote-pingpong-loop (round trips between the two programs' own loops, each node's transport on its
 * program's loop: the threads zmq-pingpong has), and zmq-pingpong, zmq-throughput and zmq-bigmsg with raw
 * libzmq (a PAIR pair, the same frames: a 56-byte header and the msgpack body), the reference for the first
 * three.
 *
 * The bench starts its peer itself: it runs its own binary again as "uvactor-bench --peer MODE ENDPOINT",
 * which listens, prints where on its stdout, serves, and ends when its stdin closes. Endpoints are
 * tcp://127.0.0.1 unless -e ipc is given (then ipc:// in a scratch directory).
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"
#include "uvactor/remote.h"

#define WARMUP 1000
#define HEADER_SIZE 56 /* the remote transport's header frame: zmq-* sends the same */

const char *bench_remote_transport = "tcp";
extern char **environ;

typedef struct {
  pid_t pid;
  int in; /* the peer's stdin: closing it ends the peer */
  char endpoint[256];
  char dir[64];
} peer_proc_t;

static void peer_start(peer_proc_t *p, const char *mode) {
  char endpoint[128];
  char *argv[5];
  int to_child[2];
  int from_child[2];
  posix_spawn_file_actions_t fa;
  char exe[4096];
  ssize_t n;
  FILE *out;

  memset(p, 0, sizeof(*p));
  if (strcmp(bench_remote_transport, "ipc") == 0) {
    strcpy(p->dir, "/tmp/uva-bench.XXXXXX");
    if (mkdtemp(p->dir) == NULL)
      bench_fail("mkdtemp failed");
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/peer", p->dir);
  } else {
    strcpy(endpoint, "tcp://127.0.0.1:*");
  }
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    bench_fail("cannot find the bench's own binary");
  exe[n] = 0;
  if (pipe(to_child) != 0 || pipe(from_child) != 0)
    bench_fail("pipe failed");
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  posix_spawn_file_actions_addclose(&fa, to_child[1]);
  posix_spawn_file_actions_addclose(&fa, from_child[0]);
  argv[0] = exe;
  argv[1] = "--peer";
  argv[2] = (char *)mode;
  argv[3] = endpoint;
  argv[4] = NULL;
  if (posix_spawn(&p->pid, exe, &fa, NULL, argv, environ) != 0)
    bench_fail("cannot start the peer process");
  posix_spawn_file_actions_destroy(&fa);
  close(to_child[0]);
  close(from_child[1]);
  p->in = to_child[1];
  out = fdopen(from_child[0], "r");
  if (out == NULL || fgets(p->endpoint, sizeof(p->endpoint), out) == NULL)
    bench_fail("the peer process did not say where it listens");
  fclose(out);
  p->endpoint[strcspn(p->endpoint, "\n")] = 0;
}

static void peer_stop(peer_proc_t *p) {
  int status;

  close(p->in);
  if (waitpid(p->pid, &status, 0) != p->pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    bench_fail("the peer process failed");
  if (p->dir[0] != 0) {
    char path[128];
    snprintf(path, sizeof(path), "%s/peer", p->dir);
    unlink(path);
    rmdir(p->dir);
  }
}

/* ---- the remote transport ---------------------------------------------------------------------------- */

typedef struct {
  const bench_params_t *params;
  const char *workload;
  uva_node_t node;
  uva_remote_actor_t actor;
  uva_remote_req_t req; /* remote-pingpong-loop: the open of the peer's echo, and its port */
  uva_port_t port;
  uint64_t sent;
  uint64_t total;
  uint64_t start_ns;
  uint64_t elapsed_ns;
  unsigned char *payload; /* bigmsg */
  int done;
} remote_run_t;

static void pong_message(uva_port_t *port, uva_msg_t *msg) {
  msgpack_object view;
  uint64_t seq = bench_msg_seq(msg, &view);

  uva_msg_free(msg);
  bench_check(uva_port_post_wait(port, bench_seq_msg(seq, "pong", 4), UVA_WAIT_FOREVER), "post pong");
}

static int pong_main(uva_self_t *self) {
  bench_check(uva_port_start(uva_self_port(self), uva_self_loop(self), pong_message, NULL), "start");
  return 0;
}

/* Counts [seq, payload] messages, checking their order (and a bigmsg payload's stamps); answers [count]
 * to nil. */
typedef struct {
  uint64_t next;
} sink_t;

static void sink_message(uva_port_t *port, uva_msg_t *msg) {
  sink_t *sink = port->data;
  msgpack_object view;
  uva_msg_t *reply;

  if (uva_msg_object(msg, &view) == 0 && view.type == MSGPACK_OBJECT_NIL) {
    bench_check(uva_msg_new(&reply), "new");
    msgpack_pack_array(uva_msg_packer(reply), 1);
    msgpack_pack_uint64(uva_msg_packer(reply), sink->next);
    bench_check(uva_port_post_wait(port, reply, UVA_WAIT_FOREVER), "post count");
  } else {
    const msgpack_object *p;
    if (bench_msg_seq(msg, &view) != sink->next)
      bench_fail("remote sink: message %llu out of order", (unsigned long long)sink->next);
    p = &view.via.array.ptr[1];
    if (p->type == MSGPACK_OBJECT_BIN &&
        !bench_payload_check((const unsigned char *)p->via.bin.ptr, p->via.bin.size, sink->next, 0))
      bench_fail("remote sink: payload %llu is wrong", (unsigned long long)sink->next);
    sink->next++;
  }
  uva_msg_free(msg);
}

static int sink_main(uva_self_t *self) {
  sink_t *sink = calloc(1, sizeof(*sink));

  uva_self_port(self)->data = sink;
  bench_check(uva_port_start(uva_self_port(self), uva_self_loop(self), sink_message, NULL), "start");
  return 0;
}

static void remote_post_more(remote_run_t *run);

static void on_writable(uva_port_t *port) {
  remote_run_t *run = port->data;

  remote_post_more(run);
}

static uva_msg_t *stream_msg(remote_run_t *run, uint64_t seq) {
  uva_msg_t *msg;

  if (run->payload == NULL)
    return bench_seq_msg(seq, BENCH_TEXT, sizeof(BENCH_TEXT) - 1);
  bench_payload_stamp(run->payload, run->params->size, seq);
  bench_check(uva_msg_new(&msg), "new");
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_uint64(uva_msg_packer(msg), seq);
  msgpack_pack_bin_with_body(uva_msg_packer(msg), run->payload, run->params->size);
  return msg;
}

/* Streams: posts until the window is full, then again when it has room. */
static void remote_post_more(remote_run_t *run) {
  uva_port_t *port = uva_remote_actor_port(&run->actor);
  uva_msg_t *msg;
  int err;

  while (run->sent <= run->total) {
    if (run->sent == run->total) {
      bench_check(uva_msg_new(&msg), "new");
      msgpack_pack_nil(uva_msg_packer(msg));
    } else {
      msg = stream_msg(run, run->sent);
    }
    err = uva_port_post(port, msg);
    if (err == UV_EAGAIN) {
      uva_msg_free(msg);
      port->data = run;
      bench_check(uva_port_on_writable(port, on_writable), "on_writable");
      return;
    }
    bench_check(err, "post");
    run->sent++;
  }
}

static void remote_ping(remote_run_t *run) {
  bench_check(uva_port_post(uva_remote_actor_port(&run->actor), bench_seq_msg(run->sent++, "ping", 4)),
              "ping");
}

static void on_online(uva_remote_actor_t *actor) {
  remote_run_t *run = actor->data;

  run->start_ns = uv_hrtime();
  if (strcmp(run->workload, "remote-pingpong") == 0)
    remote_ping(run);
  else
    remote_post_more(run);
}

/* The run is over: its time is taken. */
static void run_done(remote_run_t *run) {
  run->elapsed_ns = uv_hrtime() - run->start_ns;
  run->done = 1;
}

/* A pong, checked for its order; 1 if the next ping is due, 0 once the run is done. */
static int pong_came(remote_run_t *run, uva_msg_t *msg) {
  msgpack_object view;

  if (bench_msg_seq(msg, &view) != run->sent - 1)
    bench_fail("%s: pong out of order", run->workload);
  uva_msg_free(msg);
  if (run->sent == WARMUP)
    run->start_ns = uv_hrtime();
  if (run->sent < run->total)
    return 1;
  run_done(run);
  return 0;
}

static void on_remote_message(uva_remote_actor_t *actor, uva_msg_t *msg) {
  remote_run_t *run = actor->data;
  msgpack_object view;

  if (strcmp(run->workload, "remote-pingpong") == 0) {
    if (pong_came(run, msg)) {
      remote_ping(run);
      return;
    }
  } else {
    if (uva_msg_object(msg, &view) != 0 || view.type != MSGPACK_OBJECT_ARRAY || view.via.array.size != 1 ||
        view.via.array.ptr[0].via.u64 != run->total)
      bench_fail("%s: the sink did not get every message", run->workload);
    uva_msg_free(msg);
    run_done(run);
  }
  uva_remote_terminate(actor);
}

static void on_remote_exit(uva_remote_actor_t *actor, int code) {
  remote_run_t *run = actor->data;

  if (!run->done)
    bench_fail("%s: the remote actor ended (%d) before the run did", run->workload, code);
  uva_node_close(&run->node, NULL);
}

static void on_peer_event(uva_node_t *node, const uva_node_event_t *ev) {
  (void)node;
  if (ev->type == UVA_NODE_CHANNEL_DOWN || ev->type == UVA_NODE_REFUSED || ev->type == UVA_NODE_FAILED)
    bench_fail("remote: %s", ev->text);
}

/* remote-pingpong-loop: the same round trips to the peer's "echo", a port on its main loop. */
static void loop_ping(remote_run_t *run) {
  bench_check(uva_port_post(&run->port, bench_seq_msg(run->sent++, "ping", 4)), "ping");
}

static void on_loop_pong(uva_port_t *port, uva_msg_t *msg) {
  remote_run_t *run = port->data;

  if (pong_came(run, msg)) {
    loop_ping(run);
    return;
  }
  uva_port_close(port);
  uva_node_close(&run->node, NULL);
}

static void on_echo_open(uva_remote_req_t *req, int status) {
  remote_run_t *run = req->data;

  bench_check(status, "uva_remote_open");
  run->port.data = run;
  bench_check(uva_port_start(&run->port, req->loop, on_loop_pong, NULL), "start");
  run->start_ns = uv_hrtime();
  loop_ping(run);
}

static void remote_run(const bench_params_t *params, const char *workload, const char *main_name) {
  uva_remote_actor_options_t aopts = {0};
  uva_node_options_t options = {0};
  remote_run_t run = {0};
  peer_proc_t peer;
  uv_loop_t loop;

  int on_loop = strcmp(workload, "remote-pingpong-loop") == 0;

  peer_start(&peer, on_loop ? "remote-loop" : "remote");
  run.params = params;
  run.workload = workload;
  run.total = strncmp(workload, "remote-pingpong", 15) == 0 ? WARMUP + params->n : params->n;
  if (strcmp(workload, "remote-bigmsg") == 0) {
    run.payload = malloc(params->size);
    bench_payload_fill(run.payload, params->size);
  }
  bench_check(uv_loop_init(&loop), "loop");
  options.name = "bench";
  options.plaintext = 1;
  options.event_cb = on_peer_event;
  options.on_loop = on_loop;
  bench_check(uva_node_init(&run.node, &loop, &options), "uva_node_init");
  bench_check(uva_node_connect(&run.node, peer.endpoint, NULL), "uva_node_connect");
  if (on_loop) {
    run.req.data = &run;
    bench_check(uva_remote_open(&run.req, &loop, &run.node, "peer", main_name, -1, on_echo_open, &run.port),
                "uva_remote_open");
  } else {
    run.actor.data = &run;
    aopts.online_cb = on_online;
    aopts.message_cb = on_remote_message;
    aopts.exit_cb = on_remote_exit;
    bench_check(uva_remote_spawn(&run.actor, &loop, &run.node, "peer", main_name, &aopts),
                "uva_remote_spawn");
    run.actor.data = &run;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  peer_stop(&peer);
  free(run.payload);
  if (!run.done)
    bench_fail("%s: the loop ended before the run did", workload);
  if (strncmp(workload, "remote-pingpong", 15) == 0)
    bench_result("uvactor", workload, params->n, (double)run.elapsed_ns / 1e3 / (double)params->n, "us/rtt");
  else if (strcmp(workload, "remote-bigmsg") == 0)
    bench_result("uvactor", workload, params->n,
                 (double)params->n * (double)params->size / ((double)run.elapsed_ns), "GB/s");
  else
    bench_result("uvactor", workload, params->n, (double)params->n / ((double)run.elapsed_ns / 1e9), "msg/s");
}

void bench_remote_pingpong(const bench_params_t *params) {
  remote_run(params, "remote-pingpong", "pong");
}

void bench_remote_pingpong_loop(const bench_params_t *params) {
  remote_run(params, "remote-pingpong-loop", "echo");
}

void bench_remote_throughput(const bench_params_t *params) {
  remote_run(params, "remote-throughput", "sink");
}

void bench_remote_bigmsg(const bench_params_t *params) {
  remote_run(params, "remote-bigmsg", "sink");
}

/* The peer's side of the remote workloads: a node with pong and sink, until stdin closes; with its
 * transport on its loop, where it serves "echo" (remote-pingpong-loop). */
static uva_node_t peer_node;
static uv_pipe_t peer_in;
static int peer_on_loop;
static uva_name_t echo_name;
static uva_port_t echo_port;

static void echo_accept(uva_name_t *name) {
  bench_check(uva_name_accept(name, &echo_port), "accept");
  bench_check(uva_port_start(&echo_port, name->loop, bench_pong, NULL), "start");
}

static void peer_closed(uva_node_t *node) {
  (void)node;
}

static void peer_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char scratch[64];

  (void)h;
  (void)size;
  buf->base = scratch;
  buf->len = sizeof(scratch);
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n >= 0)
    return;
  uv_close((uv_handle_t *)s, NULL);
  if (peer_on_loop)
    bench_check(uva_name_unregister(&echo_name), "peer: unregister");
  uva_node_close(&peer_node, peer_closed);
}

static int remote_peer(const char *endpoint, int on_loop) {
  static const uva_remote_main_t mains[] = {{"pong", pong_main}, {"sink", sink_main}};
  uva_node_options_t options = {0};
  char bound[256];

  options.name = "peer";
  options.plaintext = 1;
  options.mains = mains;
  options.nmains = 2;
  options.on_loop = peer_on_loop = on_loop;
  bench_check(uva_node_init(&peer_node, uv_default_loop(), &options), "peer: uva_node_init");
  if (on_loop)
    bench_check(uva_name_register(&echo_name, uv_default_loop(), "echo", echo_accept), "peer: register");
  bench_check(uva_node_listen(&peer_node, endpoint, bound, sizeof(bound)), "peer: uva_node_listen");
  printf("%s\n", bound);
  fflush(stdout);
  uv_pipe_init(uv_default_loop(), &peer_in, 0);
  uv_pipe_open(&peer_in, 0);
  uv_read_start((uv_stream_t *)&peer_in, peer_alloc, peer_read);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  return 0;
}

/* ---- raw libzmq -------------------------------------------------------------------------------------- */

/* Sends a header frame and a body frame, as the transport does for a small message. */
static void zsend2(void *s, const void *body, size_t len) {
  static unsigned char header[HEADER_SIZE];

  if (zmq_send(s, header, sizeof(header), ZMQ_SNDMORE) < 0 || zmq_send(s, body, len, 0) < 0)
    bench_fail("zmq_send: %s", zmq_strerror(zmq_errno()));
}

/* Receives a header and a body; the body's bytes in *msg (the caller closes it). */
static void zrecv2(void *s, zmq_msg_t *msg) {
  zmq_msg_t header;

  zmq_msg_init(&header);
  zmq_msg_init(msg);
  if (zmq_msg_recv(&header, s, 0) < 0 || !zmq_msg_more(&header) || zmq_msg_recv(msg, s, 0) < 0)
    bench_fail("zmq_recv: %s", zmq_strerror(zmq_errno()));
  zmq_msg_close(&header);
}

static void *zsocket(void *ctx) {
  void *s = zmq_socket(ctx, ZMQ_PAIR);
  int zero = 0;

  zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof(zero));
  zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof(zero));
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
  return s;
}

/* The raw peer: echoes each message ([seq, "ping"] bodies come back as they are) or counts them to a
 * nil body (0xc0), then answers the count; whichever the first message's... mode says. */
static int zmq_peer(const char *mode, const char *endpoint) {
  void *ctx = zmq_ctx_new();
  void *s = zsocket(ctx);
  char bound[256];
  size_t size = sizeof(bound);
  uint64_t count = 0;
  zmq_msg_t body;

  if (zmq_bind(s, endpoint) != 0 || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &size) != 0)
    bench_fail("zmq peer: bind: %s", zmq_strerror(zmq_errno()));
  printf("%s\n", bound);
  fflush(stdout);
  for (;;) {
    zrecv2(s, &body);
    if (strcmp(mode, "zmq-echo") == 0) {
      if (zmq_msg_size(&body) == 1 && *(unsigned char *)zmq_msg_data(&body) == 0xc0)
        break;
      zsend2(s, zmq_msg_data(&body), zmq_msg_size(&body));
    } else if (zmq_msg_size(&body) == 1 && *(unsigned char *)zmq_msg_data(&body) == 0xc0) {
      zsend2(s, &count, sizeof(count));
      count = 0;
      zmq_msg_close(&body);
      break;
    } else {
      count++;
    }
    zmq_msg_close(&body);
  }
  {
    char c;
    while (read(0, &c, 1) > 0)
      ;
  }
  zmq_close(s);
  zmq_ctx_term(ctx);
  return 0;
}

static void zmq_run(const bench_params_t *params, const char *workload) {
  int echo = strcmp(workload, "zmq-pingpong") == 0;
  unsigned char nil = 0xc0;
  peer_proc_t peer;
  uint64_t start = 0;
  uint64_t i;
  uint64_t count = 0;
  zmq_msg_t body;
  void *ctx;
  void *s;
  uva_msg_t *msg;
  unsigned char *payload = NULL;

  peer_start(&peer, echo ? "zmq-echo" : "zmq-sink");
  ctx = zmq_ctx_new();
  s = zsocket(ctx);
  if (zmq_connect(s, peer.endpoint) != 0)
    bench_fail("zmq connect: %s", zmq_strerror(zmq_errno()));
  if (echo) {
    for (i = 0; i < WARMUP + params->n; i++) {
      if (i == WARMUP)
        start = uv_hrtime();
      msg = bench_seq_msg(i, "ping", 4);
      zsend2(s, uva_msg_data(msg), uva_msg_size(msg));
      uva_msg_free(msg);
      zrecv2(s, &body);
      zmq_msg_close(&body);
    }
  } else {
    if (strcmp(workload, "zmq-bigmsg") == 0) {
      payload = malloc(params->size);
      bench_payload_fill(payload, params->size);
    }
    start = uv_hrtime();
    for (i = 0; i < params->n; i++) {
      if (payload != NULL) {
        bench_check(uva_msg_new(&msg), "new");
        bench_payload_stamp(payload, params->size, i);
        msgpack_pack_array(uva_msg_packer(msg), 2);
        msgpack_pack_uint64(uva_msg_packer(msg), i);
        msgpack_pack_bin_with_body(uva_msg_packer(msg), payload, params->size);
      } else {
        msg = bench_seq_msg(i, BENCH_TEXT, sizeof(BENCH_TEXT) - 1);
      }
      zsend2(s, uva_msg_data(msg), uva_msg_size(msg));
      uva_msg_free(msg);
    }
    zsend2(s, &nil, 1);
    zrecv2(s, &body);
    memcpy(&count, zmq_msg_data(&body), sizeof(count));
    zmq_msg_close(&body);
    if (count != params->n)
      bench_fail("%s: the peer counted %llu", workload, (unsigned long long)count);
  }
  double elapsed = (double)(uv_hrtime() - start);
  if (echo)
    zsend2(s, &nil, 1);
  zmq_close(s);
  zmq_ctx_term(ctx);
  peer_stop(&peer);
  free(payload);
  if (echo)
    bench_result("zmq", workload, params->n, elapsed / 1e3 / (double)params->n, "us/rtt");
  else if (strcmp(workload, "zmq-bigmsg") == 0)
    bench_result("zmq", workload, params->n, (double)params->n * (double)params->size / elapsed, "GB/s");
  else
    bench_result("zmq", workload, params->n, (double)params->n / (elapsed / 1e9), "msg/s");
}

void bench_zmq_pingpong(const bench_params_t *params) {
  zmq_run(params, "zmq-pingpong");
}

void bench_zmq_throughput(const bench_params_t *params) {
  zmq_run(params, "zmq-throughput");
}

void bench_zmq_bigmsg(const bench_params_t *params) {
  zmq_run(params, "zmq-bigmsg");
}

int bench_peer_main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc != 4)
    bench_fail("--peer MODE ENDPOINT");
  if (strcmp(argv[2], "remote") == 0 || strcmp(argv[2], "remote-loop") == 0)
    return remote_peer(argv[3], strcmp(argv[2], "remote-loop") == 0);
  return zmq_peer(argv[2], argv[3]);
}
