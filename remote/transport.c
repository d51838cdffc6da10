/* The transport: its start (as an actor, or on the node's loop), the commands programs send it, its clock,
 * and its end.
 *
 * Commands come on the transport's port (the actor's own; on the node's loop, its end of the node's
 * channel) as messages: an array whose first element names the command, with the ports it needs packed in
 * (transferred: they belong to the transport from then on). The answers go back on those ports, so the
 * program's side never shares memory with the transport but the node's options, which are read-only while
 * the transport runs.
 *
 *   ["listen", endpoint, reply]                       reply gets [status, bound endpoint or nil]
 *   ["connect", endpoint, server key or nil, reply]   reply gets [status]
 *   ["open", peer, name, timeout_ms, port, reply]     reply gets ["open", status, channel, text]
 *   ["spawn", peer, main, actor name or nil, timeout_ms, port, control, init port or nil]
 *                                                     control gets ["online", ...] and ["exit", ...]; the
 *                                                     init port holds the init message, queued: a command
 *                                                     freed untaken frees it with its ports
 *   ["close"]                                         the transport ends
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/once.h"
#include "remote/transport.h"

/* fork(): a child's copy of a transport on the program's loop is its parent's, and its sockets' descriptors
 * are shared with the parent. Its handles, run by the child's loop, stop there the first time without
 * touching ZeroMQ: the child neither sends for the parent nor spins on a descriptor that stays readable
 * until the parent reads it. (A transport actor's loop is never run in the child: it has no such thread.)
 * The core's generation (channel/fork.c) is libuvactor's own, not exported: this library counts its own. */
static unsigned int generation;

static void new_generation(void) {
  generation++;
}

UVA__AFTER_FORK(new_generation)

int rt_inherited(const rt_t *rt) {
  return rt->generation != generation;
}

static int obj_str(const msgpack_object *o, char *buf, size_t size) {
  if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
    return UV_EINVAL;
  memcpy(buf, o->via.str.ptr, o->via.str.size);
  buf[o->via.str.size] = 0;
  return 0;
}

/* Posts [status, str or nil] on reply and closes it. */
static void reply_and_close(uva_port_t *reply, int status, const char *str) {
  uva_msg_t *msg;

  if (uva_msg_new(&msg) == 0) {
    msgpack_pack_array(uva_msg_packer(msg), 2);
    msgpack_pack_int(uva_msg_packer(msg), status);
    if (str != NULL)
      msgpack_pack_str_with_body(uva_msg_packer(msg), str, strlen(str));
    else
      msgpack_pack_nil(uva_msg_packer(msg));
    if (uva_port_post(reply, msg) != 0)
      uva_msg_free(msg);
  }
  uva_port_close(reply);
}

/* libzmq binds an ipc:// path by unlinking what is there first, so a live listener's socket file (another
 * node's, or this node's own) would be taken over in silence. A connect() that succeeds, or finds the
 * listener's backlog full, says someone listens there: UV_EADDRINUSE, as tcp:// says. A file nobody listens
 * on (ECONNREFUSED: its process ended) may be taken over. The wildcard path "*" names no file yet, and the
 * kernel refuses a second bind of an abstract name (ipc://@name) by itself. */
static int ipc_in_use(const char *endpoint) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  const char *path = endpoint + 6;
  int err;
  int fd;

  if (strncmp(endpoint, "ipc://", 6) != 0 || strcmp(path, "*") == 0 || path[0] == '@' ||
      strlen(path) >= sizeof(addr.sun_path))
    return 0;
  fd = UVA__FAULT() ? (errno = EMFILE, -1) : socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  strcpy(addr.sun_path, path);
  err = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 || errno == EAGAIN ? UV_EADDRINUSE : 0;
  close(fd);
  return err;
}

static int listen_on(rt_t *rt, const char *endpoint, char *bound, size_t size) {
  const uva__rnode_t *cfg = rt->cfg;
  int one = 1;
  int err;

  if ((err = rt_fds_left()) != 0 || (err = ipc_in_use(endpoint)) != 0)
    return err;
  if (rt->router == NULL) {
    if (cfg->secure && rt->zap == NULL && (err = rt_auth_start(rt)) != 0)
      return err;
    rt->router = sock_new(rt, SOCK_ROUTER);
    if (rt->router == NULL)
      return rt_errno();
    /* A client that reconnects with the routing id it had takes its connection over; a send to a client
     * whose connection is gone fails (EHOSTUNREACH) rather than vanish, which is how a killed client is
     * seen at once (sock_send()). */
    zmq_setsockopt(rt->router->zs, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    zmq_setsockopt(rt->router->zs, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    if (cfg->secure &&
        (zmq_setsockopt(rt->router->zs, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
         zmq_setsockopt(rt->router->zs, ZMQ_CURVE_SECRETKEY, cfg->secret_key, UVA_REMOTE_KEY_LEN + 1) != 0))
      return UV_EINVAL;
  }
  if (zmq_bind(rt->router->zs, endpoint) != 0)
    return zmq_errno() == EINVAL || zmq_errno() == EPROTONOSUPPORT ? UV_EINVAL : rt_errno();
  if (zmq_getsockopt(rt->router->zs, ZMQ_LAST_ENDPOINT, bound, &size) != 0)
    bound[0] = 0;
  return 0;
}

static void cmd_listen(rt_t *rt, uva_msg_t *msg, const msgpack_object *args, uint32_t n) {
  char endpoint[1024];
  char bound[1024];
  uva_port_t reply;
  int err;

  if (n != 3 || uva_msg_take_port(msg, &args[2], &reply) != 0)
    return;
  err = obj_str(&args[1], endpoint, sizeof(endpoint));
  if (err == 0)
    err = rt->closing ? UV_EPIPE : listen_on(rt, endpoint, bound, sizeof(bound));
  reply_and_close(&reply, err, err == 0 ? bound : NULL);
}

static void cmd_connect(rt_t *rt, uva_msg_t *msg, const msgpack_object *args, uint32_t n) {
  char endpoint[1024];
  char key[UVA_REMOTE_KEY_LEN + 1];
  uva_port_t reply;
  int err;

  if (n != 4 || uva_msg_take_port(msg, &args[3], &reply) != 0)
    return;
  err = obj_str(&args[1], endpoint, sizeof(endpoint));
  if (err == 0 && args[2].type != MSGPACK_OBJECT_NIL)
    err = obj_str(&args[2], key, sizeof(key));
  if (err == 0)
    err = rt->closing ? UV_EPIPE : rt_connect(rt, endpoint, args[2].type == MSGPACK_OBJECT_NIL ? NULL : key);
  reply_and_close(&reply, err, NULL);
}

static char *dup_str(const msgpack_object *o) {
  return o->type == MSGPACK_OBJECT_STR ? uva__strndup(o->via.str.ptr, o->via.str.size) : NULL;
}

/* An open or a spawn that got no channel: its answer ["open", status, 0, text], or the spawn's exit event,
 * goes on the command's reply port (a spawn's control port). Without it, the port would only close, which
 * says that the node closed. */
static void refuse_command(uva_msg_t *msg, const msgpack_object *reply_obj, int kind, int status) {
  const char *what = kind == CHAN_PORT ? "open" : "exit";
  const char *text = uva_strerror(status);
  msgpack_packer *pk;
  uva_port_t reply;
  uva_msg_t *answer;

  if (uva_msg_take_port(msg, reply_obj, &reply) != 0)
    return;
  if (uva_msg_new(&answer) == 0) {
    pk = uva_msg_packer(answer);
    msgpack_pack_array(pk, 4);
    msgpack_pack_str_with_body(pk, what, strlen(what));
    msgpack_pack_int(pk, status);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_str_with_body(pk, text, strlen(text));
    if (uva_port_post(&reply, answer) != 0)
      uva_msg_free(answer);
  }
  uva_port_close(&reply);
}

/* open and spawn: a channel whose opener is this node. */
static void cmd_open(rt_t *rt, uva_msg_t *msg, const msgpack_object *args, uint32_t n, int kind) {
  uint32_t port_at = kind == CHAN_PORT ? 4 : 5;
  int64_t timeout_ms;
  uva_port_t init;
  chan_t *chan;
  int err;

  if (n != port_at + 2 + (kind == CHAN_RACTOR))
    return;
  chan = chan_new(rt, kind);
  if (chan == NULL) {
    refuse_command(msg, &args[port_at + 1], kind, UV_ENOMEM); /* the other ports are freed with msg */
    return;
  }
  if (uva_msg_take_port(msg, &args[port_at], &chan->port) != 0) {
    free(chan);
    rt->nchans--;
    return;
  }
  if (uva_msg_take_port(msg, &args[port_at + 1], &chan->reply) != 0) {
    uva_port_close(&chan->port);
    free(chan);
    rt->nchans--;
    return;
  }
  chan->port.data = chan;
  chan->name = dup_str(&args[1]);
  chan->target = dup_str(&args[2]);
  timeout_ms =
      args[port_at - 1].type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)args[port_at - 1].via.u64 : 5000;
  err = chan->name == NULL || chan->target == NULL ? UV_ENOMEM : 0;
  if (kind == CHAN_RACTOR) {
    chan->actor_name = dup_str(&args[3]);
    if (args[3].type == MSGPACK_OBJECT_STR && chan->actor_name == NULL)
      err = UV_ENOMEM;
    if (args[7].type == MSGPACK_OBJECT_EXT && uva_msg_take_port(msg, &args[7], &init) == 0) {
      (void)uva_port_receive(&init, &chan->init); /* queued there: it is the port's only message */
      uva_port_close(&init);
    }
  }
  chan->deadline = uv_now(rt->loop) + (uint64_t)timeout_ms;
  chan_start_open(chan, err != 0 ? err : rt->closing ? UV_ECANCELED : 0);
}

static void begin_close(rt_t *rt);

void uva__transport_command(rt_t *rt, uva_msg_t *msg) {
  msgpack_object obj;
  const msgpack_object *args;
  uint32_t n;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size == 0 ||
      obj.via.array.ptr[0].type != MSGPACK_OBJECT_STR) {
    uva_msg_free(msg);
    return;
  }
  args = obj.via.array.ptr;
  n = obj.via.array.size;
#define IS(name) \
  (args[0].via.str.size == sizeof(name) - 1 && memcmp(args[0].via.str.ptr, name, sizeof(name) - 1) == 0)
  if (IS("listen"))
    cmd_listen(rt, msg, args, n);
  else if (IS("connect"))
    cmd_connect(rt, msg, args, n);
  else if (IS("open"))
    cmd_open(rt, msg, args, n, CHAN_PORT);
  else if (IS("spawn"))
    cmd_open(rt, msg, args, n, CHAN_RACTOR);
  else if (IS("close"))
    begin_close(rt);
#undef IS
  uva_msg_free(msg);
  rt_pump(rt);
}

static void on_command(uva_port_t *port, uva_msg_t *msg) {
  uva__transport_command(port->data, msg);
}

static uint64_t tick_period(const uva__rnode_t *cfg) {
  return cfg->heartbeat_ms / 2 > 0 ? cfg->heartbeat_ms / 2 : 1;
}

static void on_tick(uv_timer_t *timer) {
  rt_t *rt = timer->data;

  if (rt_inherited(rt)) {
    uv_timer_stop(timer);
    return;
  }
  /* What came and was not read yet counts before a peer is declared silent: a busy transport is late,
   * its peers are not lost. */
  rt_pump_all(rt);
  rt_tick(rt);
  rt_pump(rt);
}

void rt_tick_soon(rt_t *rt) {
  if (!uv_is_closing((uv_handle_t *)&rt->tick))
    uv_timer_start(&rt->tick, on_tick, 0, tick_period(rt->cfg));
}

/* The node's side closed the actor's port (the node closed, or its loop's actor ended): the transport
 * ends; or the transport's own close of it, its last step. */
static void on_self_closed(uva_port_t *port) {
  rt_t *rt = port->data;

  rt->self_closed = 1;
  if (!rt->closing)
    begin_close(rt);
  else
    rt_maybe_finish(rt);
}

void rt_maybe_finish(rt_t *rt) {
  struct uva__onloop_s *on_loop;

  if (!rt->closing || rt->nchans > 0 || rt->finish_held > 0)
    return;
  if (rt->ctx != NULL) {
    /* Every channel is closed: tell each peer the session ends, and why (UV_ECANCELED: this node closes),
     * then close the sockets. */
    while (!uva__list_empty(&rt->peers)) {
      peer_t *peer = uva__container_of(rt->peers.next, peer_t, link);
      if (peer->up) {
        uva__wire_header_t h = {0};
        h.type = UVA__WIRE_RESET;
        h.session = peer->session;
        h.status = UV_ECANCELED;
        sock_send(peer, &h, NULL, 0);
      }
      peer_free(peer);
    }
    /* Counted as the others are: libuv finishes a close after its callback returns, so the transport may be
     * freed only after the last handle's, whichever it is. */
    uv_close((uv_handle_t *)&rt->tick, rt_handle_closed);
    uv_close((uv_handle_t *)&rt->linger, rt_handle_closed);
    rt_sockets_close(rt); /* handles close: this runs again from their callbacks */
    return;
  }
  if (rt->handles > 0)
    return;
  if (!rt->self_closed) {
    if (!rt->self_closing) {
      rt->self_closing = 1;
      uva_port_close(rt->port);
    }
    return;
  }
  on_loop = rt->cfg->on_loop;
  free(rt);
  if (on_loop != NULL)
    uva__node_transport_gone(on_loop);
}

static void close_channels(rt_t *rt, int orderly) {
  /* A channel freed while its peer's channels are failed may be the last: the peers must outlive the walk. */
  rt->finish_held++;
  chan_close_all(rt, orderly);
  rt->finish_held--;
  rt_maybe_finish(rt);
}

/* The linger ran out: what is still unsent is dropped, and the channels fail. */
static void on_linger_over(uv_timer_t *timer) {
  if (!rt_inherited(timer->data))
    close_channels(timer->data, 0);
}

static void begin_close(rt_t *rt) {
  if (rt->closing)
    return;
  rt->closing = 1;
  /* Without sockets (they failed at the start), nothing can be sent, and the timers were never made. */
  if (rt->ctx != NULL)
    uv_timer_start(&rt->linger, on_linger_over, rt->cfg->linger_ms, 0);
  close_channels(rt, 1);
}

int uva__transport_start(uv_loop_t *loop, const uva__rnode_t *cfg, uva_port_t *port, rt_t **out) {
  rt_t *rt;
  int err;

  *out = NULL;
  rt = uva__calloc(1, sizeof(*rt));
  if (rt == NULL)
    return UV_ENOMEM;
  rt->port = port;
  rt->loop = loop;
  rt->cfg = cfg;
  rt->generation = generation;
  uva__list_init(&rt->peers);
  uva__list_init(&rt->waiting);
  uva__list_init(&rt->flushing);
  uva__list_init(&rt->batching);
  /* The port first: once it is started, closing it is how the transport ends, whatever else it made. */
  port->data = rt;
  err = uva_port_start(port, loop, on_command, on_self_closed);
  if (err != 0) {
    free(rt);
    return err;
  }
  *out = rt;
  err = rt_sockets_init(rt);
  if (err != 0) {
    uva_port_close(port); /* on_self_closed() frees rt: there are no sockets */
    return err;
  }
  uv_timer_init(loop, &rt->tick);
  rt->tick.data = rt;
  uv_timer_init(loop, &rt->linger);
  rt->linger.data = rt;
  rt->handles += 2;
  uv_timer_start(&rt->tick, on_tick, tick_period(cfg), tick_period(cfg));
  return 0;
}

int uva__transport_main(uva_self_t *self) {
  rt_t *rt;
  int err;

  err = uva__transport_start(uva_self_loop(self), uva_self_arg(self), uva_self_port(self), &rt);
  if (err != 0) {
    uva_self_fail(self, 1, uva_strerror(err));
    return 1;
  }
  return 0;
}
