/* The node: the program's side of the transport (uva_node_*, uva_remote_open()).
 *
 * Everything the program asks goes to the transport actor as a command message (transport.c lists them);
 * listen and connect wait for the answer on a port of their own, which needs no loop, so that they work
 * from any thread; an open answers on a port started on the caller's loop.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/once.h"
#include "remote/transport.h"

#define REQ_PENDING 0x72656d33u

/* One node per process: the transport owns every socket of the process's one ZeroMQ context. The node that
 * runs belongs to the process that started it: a fork() child has no transport thread, so it forgets the
 * node (any other node whose state says running or closing is then one it inherited) and may start its
 * own. */
static _Atomic(uva_node_t *) node_running;

static void forget_node(void) {
  atomic_store(&node_running, NULL);
}

UVA__AFTER_FORK(forget_node)

static int valid_key(const char *key) {
  uint8_t bin[32];

  return key != NULL && strlen(key) == UVA_REMOTE_KEY_LEN && zmq_z85_decode(bin, key) != NULL;
}

static int valid_name(const char *name) {
  size_t len;

  if (name == NULL)
    return 0;
  len = strlen(name);
  return len > 0 && len <= UVA_NODE_NAME_MAX;
}

static void config_free(uva__rnode_t *cfg) {
  size_t i;

  if (cfg == NULL)
    return;
  for (i = 0; cfg->allow != NULL && cfg->allow[i] != NULL; i++)
    free(cfg->allow[i]);
  free(cfg->allow);
  for (i = 0; i < cfg->nmains; i++)
    free((char *)cfg->mains[i].name);
  free(cfg->mains);
  free(cfg);
}

static int config_new(const uva_node_options_t *o, uva__rnode_t **out) {
  uva__rnode_t *cfg;
  size_t n = 0;
  size_t i;

  if (!valid_name(o->name) || (o->secret_key == NULL && !o->plaintext) ||
      (o->secret_key != NULL && (o->plaintext || !valid_key(o->secret_key) || !valid_key(o->public_key))))
    return UV_EINVAL;
  for (i = 0; o->allow != NULL && o->allow[i] != NULL; i++)
    if (!valid_key(o->allow[i]))
      return UV_EINVAL;
  for (i = 0; i < o->nmains; i++)
    if (o->mains == NULL || !valid_name(o->mains[i].name) || o->mains[i].main_cb == NULL)
      return UV_EINVAL;
  if (o->secret_key != NULL && !zmq_has("curve"))
    return UV_ENOTSUP;
  cfg = uva__calloc(1, sizeof(*cfg));
  if (cfg == NULL)
    return UV_ENOMEM;
  strcpy(cfg->name, o->name);
  if (o->secret_key != NULL) {
    cfg->secure = 1;
    strcpy(cfg->secret_key, o->secret_key);
    strcpy(cfg->public_key, o->public_key);
  }
  cfg->heartbeat_ms = o->heartbeat_ms != 0 ? o->heartbeat_ms : 250;
  cfg->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : 3000;
  cfg->linger_ms = o->linger_ms != 0 ? o->linger_ms : 100;
  cfg->max_message = o->max_message != 0 ? o->max_message : (size_t)64 << 20;
  cfg->window_messages = o->window_messages != 0 ? o->window_messages : 4096;
  cfg->window_bytes = o->window_bytes != 0 ? o->window_bytes : (size_t)8 << 20;
  if (cfg->timeout_ms < 2 * cfg->heartbeat_ms || cfg->max_message < UVA_NODE_MAX_MESSAGE_MIN) {
    free(cfg);
    return UV_EINVAL;
  }
  while (o->allow != NULL && o->allow[n] != NULL)
    n++;
  cfg->allow = uva__calloc(n + 1, sizeof(*cfg->allow));
  cfg->mains = o->nmains > 0 ? uva__calloc(o->nmains, sizeof(*cfg->mains)) : NULL;
  if (cfg->allow == NULL || (o->nmains > 0 && cfg->mains == NULL)) {
    config_free(cfg);
    return UV_ENOMEM;
  }
  for (i = 0; i < n; i++)
    if ((cfg->allow[i] = uva__strdup(o->allow[i])) == NULL) {
      config_free(cfg);
      return UV_ENOMEM;
    }
  for (i = 0; i < o->nmains; i++) {
    cfg->mains[i].main_cb = o->mains[i].main_cb;
    cfg->mains[i].name = uva__strdup(o->mains[i].name);
    cfg->nmains = i + 1;
    if (cfg->mains[i].name == NULL) {
      config_free(cfg);
      return UV_ENOMEM;
    }
  }
  *out = cfg;
  return 0;
}

/* An event from the transport: [type, peer, endpoint, channel, status, text]. */
static void node_event(uva_node_t *node, uva_msg_t *msg) {
  uva_node_event_t ev = {0};
  char strs[3][1024];
  const char **dst[3] = {&ev.peer, &ev.endpoint, &ev.text};
  msgpack_object obj;
  int i;

  if (node->event_cb_ != NULL && uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY &&
      obj.via.array.size == 6) {
    const msgpack_object *a = obj.via.array.ptr;
    static const int at[3] = {1, 2, 5};
    ev.type = (uva_node_event_type)a[0].via.i64;
    ev.channel = a[3].via.u64;
    ev.status = (int)a[4].via.i64;
    for (i = 0; i < 3; i++) {
      const msgpack_object *s = &a[at[i]];
      if (s->type != MSGPACK_OBJECT_STR)
        continue;
      size_t len = s->via.str.size < sizeof(strs[i]) - 1 ? s->via.str.size : sizeof(strs[i]) - 1;
      memcpy(strs[i], s->via.str.ptr, len);
      strs[i][len] = 0;
      *dst[i] = strs[i];
    }
    node->event_cb_(node, &ev);
  }
  uva_msg_free(msg);
}

/* The transport is gone: the node is closed. */
static void node_finished(uva_node_t *node) {
  uva_node_close_cb close_cb = node->close_cb_;

  config_free(node->impl_);
  node->impl_ = NULL;
  __atomic_store_n(&node->state_, 0, __ATOMIC_RELEASE);
  atomic_store(&node_running, NULL);
  if (close_cb != NULL)
    close_cb(node);
}

static void on_transport_message(uva_actor_t *actor, uva_msg_t *msg) {
  node_event(actor->data, msg);
}

static void on_transport_error(uva_actor_t *actor, const char *text) {
  uva_node_t *node = actor->data;
  uva__rnode_t *cfg = node->impl_;

  snprintf(cfg->failure, sizeof(cfg->failure), "%s", text);
}

/* The transport actor ended: after the node's close, or by itself, when its start failed on its thread
 * (memory, or descriptors another thread took after uva_node_init() looked): then the program is told. */
static void on_transport_exit(uva_actor_t *actor, int exit_code) {
  uva_node_t *node = actor->data;
  uva__rnode_t *cfg = node->impl_;
  uva_node_event_t ev = {0};

  (void)exit_code;
  if (__atomic_load_n(&node->state_, __ATOMIC_ACQUIRE) == UVA__NODE_RUNNING && node->event_cb_ != NULL) {
    ev.type = UVA_NODE_FAILED;
    ev.status = UV_ECANCELED;
    ev.text = cfg->failure[0] != '\0' ? cfg->failure : "the transport ended";
    node->event_cb_(node, &ev);
  }
  node_finished(node);
}

/* ---- a transport on the node's loop --------------------------------------------------------------- */

/* A channel stands for the transport actor's port. The node's end is the port of the node's actor handle,
 * which the mode leaves unused: commands go to the same field in both modes, which any thread may reach
 * as long as the node's memory is valid, as in the actor's case. The node is closed once both its end has
 * closed and the transport has freed itself, in either order. */
struct uva__onloop_s {
  uva_port_t transport_end;
  uva_node_t *node; /* NULL: a failed start, whose leftovers free themselves and cfg */
  uva__rnode_t *cfg;
  rt_t *rt;    /* until the transport is gone */
  int pending; /* the node's end's close and the transport's end, those still to come */
};

static void onloop_release(struct uva__onloop_s *ol) {
  if (--ol->pending > 0)
    return;
  if (ol->node != NULL)
    node_finished(ol->node); /* frees cfg */
  else
    config_free(ol->cfg);
  free(ol);
}

void uva__node_transport_gone(struct uva__onloop_s *ol) {
  ol->rt = NULL;
  onloop_release(ol);
}

static void on_node_end_message(uva_port_t *port, uva_msg_t *msg) {
  node_event(((struct uva__onloop_s *)port->data)->node, msg);
}

static void on_node_end_closed(uva_port_t *port) {
  onloop_release(port->data);
}

/* Starts the transport on loop, the calling thread's, then the node's end. Once the transport started, a
 * failure leaves it to end on the loop by itself, freeing cfg; the node's memory is the caller's again on
 * return. */
static int start_on_loop(uva_node_t *node, uv_loop_t *loop, uva__rnode_t *cfg) {
  uva_port_t *node_end = &node->transport_.port_;
  struct uva__onloop_s *ol;
  int err;

  ol = uva__calloc(1, sizeof(*ol));
  if (ol == NULL)
    return UV_ENOMEM;
  /* Never spawned: zeroed, its state says so to uva_actor_port() (uva__node_commands()). */
  memset(&node->transport_, 0, sizeof(node->transport_));
  err = uva_channel_init(node_end, &ol->transport_end);
  if (err != 0) {
    free(ol);
    return err;
  }
  ol->cfg = cfg;
  ol->pending = 1;
  cfg->on_loop = ol;
  err = uva__transport_start(loop, cfg, &ol->transport_end, &ol->rt);
  if (err == 0) {
    node_end->data = ol;
    err = uva_port_start(node_end, loop, on_node_end_message, on_node_end_closed);
  }
  if (err == 0) {
    ol->node = node;
    ol->pending = 2;
    return 0;
  }
  uva_port_close(node_end); /* never started: closed at once; a started transport sees it and ends */
  if (ol->rt == NULL) {     /* the transport never started: nothing is left */
    uva_port_close(&ol->transport_end);
    cfg->on_loop = NULL;
    free(ol);
  }
  return err;
}

int uva_node_init(uva_node_t *node, uv_loop_t *loop, const uva_node_options_t *options) {
  uva_actor_options_t aopts = {0};
  uva__rnode_t *cfg;
  uva_node_t *expected = NULL;
  int err;

  if (node == NULL || loop == NULL || options == NULL)
    return UV_EINVAL;
  err = config_new(options, &cfg);
  if (err != 0)
    return err;
  /* The transport's start makes descriptors (a loop, ZeroMQ's): on a thread of its own, a start that failed
   * for want of them would end the node after this returned 0. */
  err = rt_fds_left();
  if (err != 0) {
    config_free(cfg);
    return err;
  }
  if (!atomic_compare_exchange_strong(&node_running, &expected, node)) {
    config_free(cfg);
    return UV_EBUSY;
  }
  node->event_cb_ = options->event_cb;
  node->close_cb_ = NULL;
  node->impl_ = cfg;
  if (options->on_loop) {
    err = start_on_loop(node, loop, cfg);
    if (err != 0 && cfg->on_loop != NULL)
      cfg = NULL; /* the transport, ending, frees it */
  } else {
    aopts.name = "uvactor-remote";
    aopts.arg = cfg;
    aopts.message_cb = on_transport_message;
    aopts.error_cb = on_transport_error;
    aopts.exit_cb = on_transport_exit;
    node->transport_.data = node;
    err = uva_actor_spawn(&node->transport_, loop, uva__transport_main, &aopts);
  }
  if (err != 0) {
    config_free(cfg);
    node->impl_ = NULL;
    atomic_store(&node_running, NULL);
    return err;
  }
  node->loop = loop;
  node->type = UVA_NODE;
  node->owner_ = uv_thread_self();
  __atomic_store_n(&node->state_, UVA__NODE_RUNNING, __ATOMIC_RELEASE);
  return 0;
}

uva_port_t *uva__node_commands(uva_node_t *node) {
  uva_port_t *actor_port = uva_actor_port(&node->transport_);

  /* NULL: the transport is on the loop (the handle's port is the node's end), or its actor ended (its
   * port is closed: a post finds it so) */
  return actor_port != NULL ? actor_port : &node->transport_.port_;
}

/* The caller runs a node whose transport is on its loop. */
static int on_its_loop(const uva_node_t *node) {
  uv_thread_t self = uv_thread_self();

  /* The thread first: only the node's own thread frees impl_, so it alone may read it here. */
  return uv_thread_equal(&self, &node->owner_) && node->impl_->on_loop != NULL;
}

/* Posts a command whose array (n elements, the last one the answer's port, packed here) the caller began,
 * and waits for the answer. */
static int command_wait(uva_node_t *node, uva_msg_t *cmd, uva_msg_t **reply) {
  uva_port_t mine;
  uva_port_t theirs;
  int err;

  err = uva_channel_init(&mine, &theirs);
  if (err != 0) {
    uva_msg_free(cmd);
    return err;
  }
  err = uva_msg_pack_port(cmd, &theirs);
  if (err != 0) {
    uva_port_close(&theirs); /* still ours */
  } else if (on_its_loop(node)) {
    /* Waiting here would keep the transport from running: it runs the command now, and answers before it
     * returns. */
    uva__transport_command(node->impl_->on_loop->rt, cmd);
    cmd = NULL;
  } else if (uva_port_post(uva__node_commands(node), cmd) != 0) {
    err = UV_EPIPE; /* the transport ended; cmd, and theirs in it, are freed below */
  }
  if (err != 0) {
    uva_msg_free(cmd);
    uva_port_close(&mine);
    return err;
  }
  err = uva_port_receive_wait(&mine, reply, 30000);
  uva_port_close(&mine);
  return err == UV_EPIPE ? UV_EPIPE : err;
}

/* The state is read by any thread that opens, spawns, listens or connects, and written by the node's. */
int uva__node_usable(const uva_node_t *node) {
  /* Read before the state: the node's end clears the state first, so a node seen as this process's one
   * and then as running or closing is not an inherited one. */
  int ours = node != NULL && atomic_load(&node_running) == node;
  unsigned int state = node != NULL ? __atomic_load_n(&node->state_, __ATOMIC_ACQUIRE) : 0;

  if (state != UVA__NODE_RUNNING && state != UVA__NODE_CLOSING)
    return UV_EINVAL;
  if (!ours)
    return UVA_EFORKED; /* a fork() child's copy: its transport thread is the parent's */
  return state == UVA__NODE_RUNNING ? 0 : UV_EPIPE;
}

/* The answer's [status, str or nil]: status, and the str copied into buf. */
static int read_answer(uva_msg_t *reply, char *buf, size_t size) {
  msgpack_object obj;
  int err = UV_EPROTO;

  if (uva_msg_object(reply, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 2) {
    err = (int)obj.via.array.ptr[0].via.i64;
    if (err == 0 && buf != NULL && obj.via.array.ptr[1].type == MSGPACK_OBJECT_STR) {
      const msgpack_object_str *s = &obj.via.array.ptr[1].via.str;
      if (s->size >= size) {
        err = UV_ENOBUFS;
      } else {
        memcpy(buf, s->ptr, s->size);
        buf[s->size] = 0;
      }
    }
  }
  uva_msg_free(reply);
  return err;
}

/* A new command [name, endpoint, ...] of n elements for a running node; the caller packs the rest. */
static int command_new(uva_node_t *node, const char *name, uint32_t n, const char *endpoint,
                       uva_msg_t **cmd) {
  int err;

  if ((err = uva__node_usable(node)) != 0 || (err = uva_msg_new(cmd)) != 0)
    return err;
  msgpack_pack_array(uva_msg_packer(*cmd), n);
  msgpack_pack_str_with_body(uva_msg_packer(*cmd), name, strlen(name));
  msgpack_pack_str_with_body(uva_msg_packer(*cmd), endpoint, strlen(endpoint));
  return 0;
}

/* A tcp:// endpoint's address: a host or interface, then a port that is a decimal number up to 65535 with
 * nothing after it, or "*" to listen on one the system picks. libzmq takes the digits modulo 65536 and
 * ignores what follows them, so "99999" or "80x" would listen on, or connect to, another port. Not taken
 * either: libzmq's source address ("src;dst", which binds the connection's end) and IPv6 ("[::1]", which
 * its sockets do not speak unless asked: the connect would never connect). */
static int tcp_address_valid(const char *address, int listening) {
  const char *colon = strrchr(address, ':');
  const char *digit;
  unsigned long port = 0;

  if (colon == NULL || colon == address || strchr(address, ';') != NULL || address[0] == '[')
    return 0;
  if (strcmp(colon + 1, "*") == 0)
    return listening;
  if (colon[1] == '\0' || strlen(colon + 1) > 5)
    return 0;
  for (digit = colon + 1; *digit != '\0'; digit++) {
    if (*digit < '0' || *digit > '9')
      return 0;
    port = port * 10 + (unsigned long)(*digit - '0');
  }
  return port <= 65535 && (listening || port > 0);
}

/* The transports the wire protocol is written and tested for; libzmq knows more (ws://, udp://, inproc://),
 * whose semantics (datagrams, one process) the transport does not handle. */
static int endpoint_supported(const char *endpoint, int listening) {
  if (strncmp(endpoint, "tcp://", 6) == 0)
    return tcp_address_valid(endpoint + 6, listening);
  /* An ipc path of "*" is one the listener picks: nothing to connect to. */
  return strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '\0' &&
         (listening || strcmp(endpoint + 6, "*") != 0);
}

int uva_node_listen(uva_node_t *node, const char *endpoint, char *bound, size_t size) {
  uva_msg_t *cmd;
  uva_msg_t *reply;
  int err;

  if (endpoint == NULL || !endpoint_supported(endpoint, 1) || (bound == NULL && size > 0))
    return UV_EINVAL;
  if ((err = command_new(node, "listen", 3, endpoint, &cmd)) != 0)
    return err;
  err = command_wait(node, cmd, &reply);
  return err != 0 ? err : read_answer(reply, bound, size);
}

int uva_node_connect(uva_node_t *node, const char *endpoint, const char *server_key) {
  uva_msg_t *cmd;
  uva_msg_t *reply;
  int err;

  if (endpoint == NULL || !endpoint_supported(endpoint, 0) || (server_key != NULL && !valid_key(server_key)))
    return UV_EINVAL;
  if ((err = command_new(node, "connect", 4, endpoint, &cmd)) != 0)
    return err;
  if (server_key != NULL)
    msgpack_pack_str_with_body(uva_msg_packer(cmd), server_key, strlen(server_key));
  else
    msgpack_pack_nil(uva_msg_packer(cmd));
  err = command_wait(node, cmd, &reply);
  return err != 0 ? err : read_answer(reply, NULL, 0);
}

int uva_node_close(uva_node_t *node, uva_node_close_cb close_cb) {
  uv_thread_t self = uv_thread_self();
  uva_msg_t *cmd;
  int err;

  err = uva__node_usable(node);
  if (err == UV_EINVAL || err == UVA_EFORKED)
    return err;
  if (err == UV_EPIPE)
    return UV_EALREADY;
  if (!uv_thread_equal(&self, &node->owner_))
    return UV_EPERM;
  __atomic_store_n(&node->state_, UVA__NODE_CLOSING, __ATOMIC_RELEASE);
  node->close_cb_ = close_cb;
  if (uva_msg_new(&cmd) == 0) {
    msgpack_pack_array(uva_msg_packer(cmd), 1);
    msgpack_pack_str_with_body(uva_msg_packer(cmd), "close", 5);
    if (uva_port_post(uva__node_commands(node), cmd) == 0)
      return 0;
    uva_msg_free(cmd);
  }
  /* The command could not go: closing the port to the transport ends it too. */
  (void)uva_port_close(uva__node_commands(node));
  return 0;
}

int uva_remote_keypair(char public_key[UVA_REMOTE_KEY_LEN + 1], char secret_key[UVA_REMOTE_KEY_LEN + 1]) {
  if (public_key == NULL || secret_key == NULL)
    return UV_EINVAL;
  if (!zmq_has("curve"))
    return UV_ENOTSUP;
  return zmq_curve_keypair(public_key, secret_key) == 0 ? 0 : UV_ENOTSUP;
}

/* ---- remote ports ---------------------------------------------------------------------------------- */

static void on_open_answer(uva_port_t *port, uva_msg_t *msg) {
  uva_remote_req_t *req = uva__container_of(port, uva_remote_req_t, reply_);
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 4) {
    req->status_ = (int)obj.via.array.ptr[1].via.i64;
    if (req->status_ == 0)
      req->channel = obj.via.array.ptr[2].via.u64;
  }
  uva_msg_free(msg);
}

static void on_open_done(uva_port_t *port) {
  uva_remote_req_t *req = uva__container_of(port, uva_remote_req_t, reply_);
  int status = req->status_;

  req->state_ = 0;
  if (status != 0)
    uva_port_close(req->port_); /* new: closed at once, its memory the caller's */
  req->open_cb_(req, status);
}

int uva_remote_open(uva_remote_req_t *req, uv_loop_t *loop, uva_node_t *node, const char *peer,
                    const char *name, int64_t timeout_ms, uva_remote_open_cb open_cb, uva_port_t *port) {
  uva_port_t theirs;
  uva_port_t answer;
  msgpack_packer *pk;
  uva_msg_t *cmd;
  int err;

  if (req == NULL || loop == NULL || open_cb == NULL || port == NULL || !valid_name(peer) || name == NULL ||
      strlen(name) == 0 || strlen(name) > 255)
    return UV_EINVAL;
  if ((err = uva__node_usable(node)) != 0)
    return err;
  err = uva_msg_new(&cmd);
  if (err != 0)
    return err;
  err = uva_channel_init(port, &theirs);
  if (err != 0) {
    uva_msg_free(cmd);
    return err;
  }
  err = uva_channel_init(&req->reply_, &answer);
  if (err != 0) {
    uva_port_close(&theirs);
    uva_port_close(port);
    uva_msg_free(cmd);
    return err;
  }
  pk = uva_msg_packer(cmd);
  msgpack_pack_array(pk, 6);
  msgpack_pack_str_with_body(pk, "open", 4);
  msgpack_pack_str_with_body(pk, peer, strlen(peer));
  msgpack_pack_str_with_body(pk, name, strlen(name));
  msgpack_pack_uint64(pk, timeout_ms < 0 ? 5000 : (uint64_t)timeout_ms);
  /* The reply port starts last: until then a failure leaves no callback behind. */
  if ((err = uva_msg_pack_port(cmd, &theirs)) != 0 || (err = uva_msg_pack_port(cmd, &answer)) != 0 ||
      (err = uva_port_start(&req->reply_, loop, on_open_answer, on_open_done)) != 0) {
    uva_msg_free(cmd); /* closes the ports packed in it */
    uva_port_close(&theirs);
    uva_port_close(&answer);
    uva_port_close(&req->reply_);
    uva_port_close(port);
    return err;
  }
  req->port_ = port;
  req->open_cb_ = open_cb;
  req->status_ = UV_ECANCELED;
  req->channel = 0;
  req->loop = loop;
  req->type = UVA_REMOTE_REQ;
  req->state_ = REQ_PENDING;
  /* If the transport ended meanwhile, freeing cmd closes the answer's port: open_cb gets UV_ECANCELED. */
  if (uva_port_post(uva__node_commands(node), cmd) != 0)
    uva_msg_free(cmd);
  return 0;
}
