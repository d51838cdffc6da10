/* Peers: sessions, their handshake, heartbeats and loss.
 *
 * A node that connects has a DEALER of its own per connection and picks the session id; a node that listens
 * has one ROUTER for every connection and knows each peer by its routing id. The client sends HELLO until
 * it gets WELCOME; then both sides send a heartbeat after heartbeat_ms without sending anything, and a peer
 * from which nothing came for timeout_ms is lost. A frame of a session the receiver does not know (the
 * server forgot it, or restarted) gets RESET; the client then drops the session and says HELLO again, with
 * a new session id. ZeroMQ reconnects a broken TCP connection by itself; the client's routing id stays (it
 * is set, not ZeroMQ's), so the server sees the same peer; but a break may lose frames, so the client ends
 * its session when its connection breaks and begins a new one (rt_connection_broke()). Sequence numbers
 * (channel.c) check the rest: nothing is delivered twice or out of order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/transport.h"

static uint64_t random_u64(void) {
  uint64_t v = 0;

  while (v == 0)
    if (uv_random(NULL, NULL, &v, sizeof(v), 0, NULL) != 0)
      v = uv_hrtime() ^ (uint64_t)(uintptr_t)&v;
  return v;
}

void rt_event(rt_t *rt, int type, const char *peer, const char *endpoint, uint64_t channel, int status,
              const char *text) {
  msgpack_packer *pk;
  uva_msg_t *msg;

  if (uva_msg_new(&msg) != 0)
    return;
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 6);
  msgpack_pack_int(pk, type);
#define PACK_STR(s)                                   \
  do {                                                \
    if ((s) == NULL)                                  \
      msgpack_pack_nil(pk);                           \
    else                                              \
      msgpack_pack_str_with_body(pk, (s), strlen(s)); \
  } while (0)
  PACK_STR(peer);
  PACK_STR(endpoint);
  msgpack_pack_uint64(pk, channel);
  msgpack_pack_int(pk, status);
  PACK_STR(text);
#undef PACK_STR
  if (uva_port_post(rt->port, msg) != 0)
    uva_msg_free(msg);
}

void rt_bad_frame(rt_t *rt, const char *why) {
  rt->bad_frames++;
  if (getenv("UVA_REMOTE_DEBUG") != NULL)
    fprintf(stderr, "uvactor-remote %s: dropped a frame: %s\n", rt->cfg->name, why);
}

peer_t *rt_peer_by_name(rt_t *rt, const char *name) {
  uva__link_t *link;
  peer_t *peer;

  uva__list_foreach(link, &rt->peers) {
    peer = uva__container_of(link, peer_t, link);
    if (peer->up && strcmp(peer->name, name) == 0)
      return peer;
  }
  return NULL;
}

/* A client's session on this node's ROUTER, up, under name. */
static peer_t *router_peer_by_name(rt_t *rt, const char *name) {
  uva__link_t *link;
  peer_t *peer;

  uva__list_foreach(link, &rt->peers) {
    peer = uva__container_of(link, peer_t, link);
    if (peer->sock == rt->router && peer->up && strcmp(peer->name, name) == 0)
      return peer;
  }
  return NULL;
}

static peer_t *peer_by_rid(rt_t *rt, const unsigned char *rid, size_t rid_len) {
  uva__link_t *link;
  peer_t *peer;

  uva__list_foreach(link, &rt->peers) {
    peer = uva__container_of(link, peer_t, link);
    if (peer->sock == rt->router && peer->rid_len == rid_len && memcmp(peer->rid, rid, rid_len) == 0)
      return peer;
  }
  return NULL;
}

static peer_t *peer_new(rt_t *rt, sock_t *sock) {
  peer_t *peer = uva__calloc(1, sizeof(*peer));

  if (peer == NULL)
    return NULL;
  peer->rt = rt;
  peer->sock = sock;
  uva__list_init(&peer->chans);
  uva__list_insert_tail(&rt->peers, &peer->link);
  return peer;
}

void peer_free(peer_t *peer) {
  uva__list_remove(&peer->link);
  free(peer);
}

/* The map HELLO and WELCOME carry: who this node is and what it will accept. */
static int pack_node_map(rt_t *rt, uva_msg_t **msgp) {
  const uva__rnode_t *cfg = rt->cfg;
  msgpack_packer *pk;
  uva_msg_t *msg;
  int err;

  err = uva_msg_new(&msg);
  if (err != 0)
    return err;
  /* Made at the first map: what tells this node's connections from those of another node of its name. */
  if (rt->instance == 0)
    rt->instance = random_u64();
  pk = uva_msg_packer(msg);
  msgpack_pack_map(pk, 8);
  msgpack_pack_str_with_body(pk, "node", 4);
  msgpack_pack_str_with_body(pk, cfg->name, strlen(cfg->name));
  msgpack_pack_str_with_body(pk, "instance", 8);
  msgpack_pack_uint64(pk, rt->instance);
  msgpack_pack_str_with_body(pk, "versions", 8);
  msgpack_pack_array(pk, 1);
  msgpack_pack_int(pk, UVA__WIRE_VERSION);
  msgpack_pack_str_with_body(pk, "heartbeat_ms", 12);
  msgpack_pack_uint32(pk, cfg->heartbeat_ms);
  msgpack_pack_str_with_body(pk, "timeout_ms", 10);
  msgpack_pack_uint32(pk, cfg->timeout_ms);
  msgpack_pack_str_with_body(pk, "max_message", 11);
  msgpack_pack_uint64(pk, cfg->max_message);
  msgpack_pack_str_with_body(pk, "window_messages", 15);
  msgpack_pack_uint32(pk, cfg->window_messages);
  msgpack_pack_str_with_body(pk, "batch", 5);
  msgpack_pack_true(pk);
  *msgp = msg;
  return 0;
}

/* 0 or the error: a client says HELLO again until it gets WELCOME, a server needs it sent. */
static int send_node_map(peer_t *peer, int type) {
  uva__wire_header_t h = {0};
  uva_msg_t *msg;
  frame_t body;
  int err;

  err = pack_node_map(peer->rt, &msg);
  if (err != 0)
    return err;
  h.type = (uint8_t)type;
  h.session = peer->session;
  body.data = uva_msg_data(msg);
  body.len = uva_msg_size(msg);
  body.free_cb = NULL;
  err = sock_send(peer, &h, &body, 1);
  uva_msg_free(msg);
  return err;
}

/* What a HELLO or WELCOME body says of its sender. */
typedef struct {
  char name[UVA_NODE_NAME_MAX + 1];
  uint64_t instance;    /* 0 when it does not say: a HELLO under a known name then means a restart */
  uint64_t max_message; /* 0 when it does not say: nothing known to respect */
  int batch;            /* it reads BATCH frames */
} node_map_t;

/* A map with "node", a str of 1..UVA_NODE_NAME_MAX bytes, and "instance", the sending node's (a positive
 * integer; anything else is taken as none), "max_message", the largest frame its sender accepts (a positive
 * integer), "batch" (true: it reads BATCH frames; anything else says it does not); other keys are for later
 * versions and ignored. */
static int read_node_map(zmq_msg_t *body, node_map_t *map) {
  uva_msg_limits_t limits = {.max_size = 4096, .max_depth = 4, .max_container = 64, .max_objects = 256};
  msgpack_object obj;
  uva_msg_t *msg;
  uint32_t i;
  int named = 0;
  int err;

  map->instance = 0;
  map->max_message = 0;
  map->batch = 0;
  err = uva_msg_from_bytes(&msg, zmq_msg_data(body), zmq_msg_size(body), &limits);
  if (err != 0)
    return err;
  err = uva_msg_object(msg, &obj);
  if (err == 0 && obj.type != MSGPACK_OBJECT_MAP)
    err = UV_EPROTO;
  for (i = 0; err == 0 && i < obj.via.map.size; i++) {
    msgpack_object *k = &obj.via.map.ptr[i].key;
    msgpack_object *v = &obj.via.map.ptr[i].val;
    if (k->type != MSGPACK_OBJECT_STR)
      continue;
    if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "node", 4) == 0) {
      if (v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 || v->via.str.size > UVA_NODE_NAME_MAX ||
          memchr(v->via.str.ptr, 0, v->via.str.size) != NULL)
        err = UV_EPROTO;
      else
        memcpy(map->name, v->via.str.ptr, v->via.str.size), map->name[v->via.str.size] = 0, named = 1;
    } else if (k->via.str.size == 11 && memcmp(k->via.str.ptr, "max_message", 11) == 0) {
      if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        err = UV_EPROTO;
      else
        map->max_message = v->via.u64;
    } else if (k->via.str.size == 8 && memcmp(k->via.str.ptr, "instance", 8) == 0) {
      map->instance = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
    } else if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "batch", 5) == 0) {
      map->batch = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean; /* anything but true: no batches */
    }
  }
  if (err == 0 && !named)
    err = UV_EPROTO;
  uva_msg_free(msg);
  return err;
}

/* What the map says goes into the peer (a session's peer: a client's peer hears it once per session). */
static void peer_take_map(peer_t *peer, const node_map_t *map) {
  memcpy(peer->name, map->name, sizeof(map->name));
  peer->instance = map->instance;
  peer->max_message = map->max_message;
  peer->batch = map->batch;
}

static void peer_up(peer_t *peer) {
  peer->up = 1;
  peer->connected_at = 0;
  rt_event(peer->rt, UVA_NODE_PEER_UP, peer->name, NULL, 0, 0, "session open");
  chan_peer_up(peer);
}

void peer_down(peer_t *peer, int status, const char *text) {
  rt_t *rt = peer->rt;

  if (peer->up && !rt->closing)
    rt_event(rt, UVA_NODE_PEER_DOWN, peer->name, NULL, 0, status, text);
  peer->up = 0;
  /* The last channel freed must not finish a closing node (and free this peer) under the walk: the caller
   * finishes it (rt_maybe_finish) once no peer is in use. */
  rt->finish_held++;
  chan_peer_lost(peer, status, text);
  rt->finish_held--;
  if (peer->sock->kind == SOCK_ROUTER) {
    peer_free(peer);
    return;
  }
  /* A client keeps its connection (ZeroMQ reconnects it) and asks for a new session. */
  peer->session = random_u64();
  peer->name[0] = 0;
  if (!rt->closing) {
    peer->hello_at = uv_now(rt->loop);
    (void)send_node_map(peer, UVA__WIRE_HELLO);
  }
}

/* What a RESET for a session that was up says: the peer's node closed (its status UV_ECANCELED), or else
 * what the receiver's side makes of it. */
static const char *reset_text(const uva__wire_header_t *h, const char *otherwise) {
  return h->status == UV_ECANCELED ? "the peer closed its node" : otherwise;
}

static void send_reset(sock_t *sock, const unsigned char *rid, size_t rid_len, uint64_t session, int status) {
  uva__wire_header_t h = {0};

  h.type = UVA__WIRE_RESET;
  h.session = session;
  h.status = status;
  sock_send_raw(sock, rid, rid_len, &h, NULL, 0);
}

/* Why a server does not take a HELLO with map on the connection whose peer (NULL if none) this is:
 * UV_EALREADY, that node has a session up through another connection (it connected twice, to one endpoint or
 * to two of this node; or to itself twice): taken, the two would supersede each other's sessions for ever.
 * The client keeps asking on that connection, which so takes over when the other goes. 0: taken (a HELLO
 * under a known name from another instance is that node restarted). */
static int hello_refused(rt_t *rt, const peer_t *peer, const node_map_t *map) {
  const peer_t *other;

  if (map->instance == 0)
    return 0;
  other = router_peer_by_name(rt, map->name);
  return other != NULL && other != peer && other->instance == map->instance ? UV_EALREADY : 0;
}

/* A server's frame from a routing id. */
static void on_router_frames(sock_t *sock, const unsigned char *rid, size_t rid_len,
                             const uva__wire_header_t *h, zmq_msg_t *frames, size_t n) {
  rt_t *rt = sock->rt;
  peer_t *peer = peer_by_rid(rt, rid, rid_len);
  node_map_t map;
  int refusal;

  if (h->type == UVA__WIRE_HELLO) {
    if (n != 2 || rid_len > sizeof(peer->rid) || read_node_map(&frames[1], &map) != 0) {
      rt_bad_frame(rt, "malformed HELLO");
      return;
    }
    if (peer != NULL && peer->session == h->session && peer->up) {
      (void)send_node_map(peer, UVA__WIRE_WELCOME); /* our WELCOME was lost: say it again */
      return;
    }
    refusal = hello_refused(rt, peer, &map);
    if (refusal != 0) {
      send_reset(sock, rid, rid_len, h->session, refusal);
      return;
    }
    if (peer != NULL)
      peer_down(peer, UV_ECONNRESET, "the peer started a new session");
    /* The same name on a new connection: that node restarted, its old session is over. It goes down before
     * the new one comes up, so that a program that follows peers by name ends with the peer up. */
    while ((peer = router_peer_by_name(rt, map.name)) != NULL)
      peer_down(peer, UV_ECONNRESET, "the peer started a new session (it restarted)");
    peer = peer_new(rt, sock);
    if (peer == NULL)
      return;
    memcpy(peer->rid, rid, rid_len);
    peer->rid_len = rid_len;
    peer->session = h->session;
    peer_take_map(peer, &map);
    peer->last_rx = uv_now(rt->loop);
    if (send_node_map(peer, UVA__WIRE_WELCOME) != 0) {
      /* Up without it, this side would send frames the client drops before its handshake: the client's
       * next HELLO begins again. */
      peer_free(peer);
      return;
    }
    peer_up(peer);
    return;
  }
  if (peer == NULL || peer->session != h->session) {
    if (h->type != UVA__WIRE_RESET)
      send_reset(sock, rid, rid_len, h->session, UV_ECONNRESET);
    return;
  }
  peer->last_rx = uv_now(rt->loop);
  if (h->type == UVA__WIRE_RESET)
    peer_down(peer, UV_ECONNRESET, reset_text(h, "the peer ended the session"));
  else if (h->type == UVA__WIRE_WELCOME)
    rt_bad_frame(rt, "WELCOME to a server");
  else if (h->type != UVA__WIRE_HEARTBEAT)
    chan_on_frame(peer, h, frames, n);
}

/* A server took a new session from this node on peer's connection only once it ended the one it had on
 * another (it refuses a second: hello_refused()); that other connection may not have told this side yet (it
 * broke on the server's side only). The old session ends here too, before the new one comes up. */
static void end_superseded(peer_t *peer) {
  uva__link_t *link;
  peer_t *other;

  if (peer->instance == 0)
    return;
  uva__list_foreach(link, &peer->rt->peers) {
    other = uva__container_of(link, peer_t, link);
    if (other != peer && other->up && other->sock->kind == SOCK_DEALER && other->instance == peer->instance) {
      peer_down(other, UV_ECONNRESET, "the peer took this node's session on another connection");
      return; /* one at most: each new session ended the one before */
    }
  }
}

/* A client's frame, on its own DEALER. */
static void on_dealer_frames(sock_t *sock, const uva__wire_header_t *h, zmq_msg_t *frames, size_t n) {
  peer_t *peer = sock->peer;
  rt_t *rt = sock->rt;
  node_map_t map;
  int err;

  if (h->session != peer->session)
    return; /* of a session that ended: stale */
  if (h->type == UVA__WIRE_WELCOME) {
    if (peer->up)
      return;
    err = n == 2 ? read_node_map(&frames[1], &map) : UV_EPROTO;
    if (err == UV_ENOMEM) {
      /* The server is up and sends what this side would drop before its handshake: a new session. */
      peer_down(peer, err, "out of memory reading the peer's WELCOME");
      return;
    }
    if (err != 0) {
      rt_bad_frame(rt, "malformed WELCOME");
      return;
    }
    peer_take_map(peer, &map);
    peer->last_rx = uv_now(rt->loop);
    end_superseded(peer);
    peer_up(peer);
    return;
  }
  if (h->type == UVA__WIRE_RESET) {
    if (peer->up)
      peer_down(peer, UV_ECONNRESET,
                reset_text(h, "the peer does not know this session (it restarted, or lost this node)"));
    else if (h->status == UV_EALREADY)
      rt_handshake_refused(peer->monitor, UV_EALREADY,
                           "the node there has a session with this node through another connection already");
    return;
  }
  if (!peer->up) {
    rt_bad_frame(rt, "a frame before the handshake");
    return;
  }
  peer->last_rx = uv_now(rt->loop);
  if (h->type == UVA__WIRE_HELLO)
    rt_bad_frame(rt, "HELLO to a client");
  else if (h->type != UVA__WIRE_HEARTBEAT)
    chan_on_frame(peer, h, frames, n);
}

void rt_on_frames(sock_t *sock, const unsigned char *rid, size_t rid_len, zmq_msg_t *frames, size_t n) {
  uva__wire_header_t h;
  char text[96];
  size_t want;
  int err;

  err = uva__wire_decode(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]), &h);
  if (err == UV_EPROTONOSUPPORT && sock->kind == SOCK_DEALER && !sock->peer->up) {
    snprintf(text, sizeof(text), "the other side speaks protocol version %u; this node speaks %d",
             (unsigned int)h.version, UVA__WIRE_VERSION);
    rt_handshake_refused(sock->peer->monitor, UV_EPROTO, text);
  }
  if (err != 0) {
    rt_bad_frame(sock->rt, err == UV_EPROTONOSUPPORT ? "a header of another version" : "malformed header");
    return;
  }
  want = 1 + (size_t)uva__wire_has_body(h.type) + h.nattach;
  if (n != want) {
    rt_bad_frame(sock->rt, "wrong number of frames");
    return;
  }
  if (sock->kind == SOCK_ROUTER)
    on_router_frames(sock, rid, rid_len, &h, frames, n);
  else
    on_dealer_frames(sock, &h, frames, n);
  rt_maybe_finish(sock->rt); /* a session ended by the frame may have held it (peer_down) */
}

/* A ZeroMQ socket that is no node (a REP, a ROUTER of another program) completes ZeroMQ's handshake and then
 * never answers HELLO, or answers in another protocol version: without this, the node would ask for ever in
 * silence. rt_tick() reports a connection that got no WELCOME for timeout_ms once, and the node keeps asking
 * (a node may yet come there). A connection on which a session came up is not asked about again: a peer
 * that stops answering there is lost by its heartbeats. */
void rt_connection_made(sock_t *monitor) {
  peer_t *peer = monitor->peer;

  monitor->refused = 0;
  if (!peer->up)
    peer->connected_at = uv_now(monitor->rt->loop) | 1; /* never 0 */
}

void rt_handshake_refused(sock_t *monitor, int status, const char *text) {
  peer_t *peer = monitor->peer;

  if (monitor->refused)
    return; /* ZeroMQ retries, and fails each time: one event until a handshake succeeds */
  monitor->refused = 1;
  rt_event(monitor->rt, UVA_NODE_REFUSED, NULL, peer->sock->endpoint, 0, status, text);
}

void rt_peer_unreachable(peer_t *peer) {
  peer->unreachable = 1;
  rt_tick_soon(peer->rt);
}

/* ZeroMQ reconnects a DEALER by itself, but frames in flight when its connection broke are lost, either way:
 * the session ends there, every channel of it fails (UV_ECONNRESET), and a new session begins on the new
 * connection. Sequence numbers would show a loss only once a later frame came, and a lost CREDIT or a lost
 * last DATA would leave a channel waiting for ever: ending the session is what makes no loss silent. The
 * server needs no monitor: its client says HELLO with a new session, and the server ends the old one. */
void rt_connection_broke(sock_t *monitor) {
  peer_t *peer = monitor->peer;
  rt_t *rt = monitor->rt;

  peer->connected_at = 0;
  /* What came before the break is read first: a peer whose node closed said so (RESET) before its
   * connection went, and the session ends for that reason. Nothing is freed under it meanwhile. */
  rt->finish_held++;
  sock_drain(peer->sock);
  rt->finish_held--;
  if (peer->up)
    peer_down(peer, UV_ECONNRESET, "the connection broke; what was in flight may be lost");
  rt_maybe_finish(rt);
}

static int watch_connection(rt_t *rt, peer_t *peer) {
  char endpoint[64];
  sock_t *mon;

  snprintf(endpoint, sizeof(endpoint), "inproc://uvactor-monitor-%u", ++rt->monitors);
  if (UVA__FAULT()) /* the monitor's PAIR socket */
    return UV_ENOMEM;
  if (zmq_socket_monitor(peer->sock->zs, endpoint,
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                             ZMQ_EVENT_DISCONNECTED) != 0)
    return rt_errno();
  mon = sock_new(rt, SOCK_MONITOR);
  if (mon == NULL)
    return rt_errno();
  if (zmq_connect(mon->zs, endpoint) != 0) {
    int err = rt_errno();
    sock_close(mon);
    return err;
  }
  mon->peer = peer;
  peer->monitor = mon;
  return 0;
}

/* Whether this node connects to endpoint already, spelt so (another spelling of it is found when the
 * handshake is refused: hello_refused()). */
static int connects_to(rt_t *rt, const char *endpoint) {
  uva__link_t *link;
  peer_t *peer;

  uva__list_foreach(link, &rt->peers) {
    peer = uva__container_of(link, peer_t, link);
    if (peer->sock->kind == SOCK_DEALER && strcmp(peer->sock->endpoint, endpoint) == 0)
      return 1;
  }
  return 0;
}

int rt_connect(rt_t *rt, const char *endpoint, const char *server_key) {
  const uva__rnode_t *cfg = rt->cfg;
  unsigned char rid[16];
  peer_t *peer;
  sock_t *sock;
  int err;

  if (cfg->secure != (server_key != NULL))
    return UV_EINVAL;
  if (connects_to(rt, endpoint))
    return UV_EALREADY;
  if ((err = rt_fds_left()) != 0)
    return err;
  sock = sock_new(rt, SOCK_DEALER);
  if (sock == NULL)
    return rt_errno();
  err = uv_random(NULL, NULL, rid, sizeof(rid), 0, NULL);
  /* A routing id of our own, so that the server knows this connection again after ZeroMQ reconnects it. */
  rid[0] |= 0x80; /* ZeroMQ reserves ids that start with a zero byte */
  if (err == 0 && zmq_setsockopt(sock->zs, ZMQ_ROUTING_ID, rid, sizeof(rid)) != 0)
    err = rt_errno();
  if (err == 0 && cfg->secure &&
      (zmq_setsockopt(sock->zs, ZMQ_CURVE_SERVERKEY, server_key, UVA_REMOTE_KEY_LEN + 1) != 0 ||
       zmq_setsockopt(sock->zs, ZMQ_CURVE_PUBLICKEY, cfg->public_key, UVA_REMOTE_KEY_LEN + 1) != 0 ||
       zmq_setsockopt(sock->zs, ZMQ_CURVE_SECRETKEY, cfg->secret_key, UVA_REMOTE_KEY_LEN + 1) != 0))
    err = UV_EINVAL;
  sock->endpoint = err == 0 ? uva__strdup(endpoint) : NULL;
  peer = err == 0 && sock->endpoint != NULL ? peer_new(rt, sock) : NULL;
  if (err == 0 && peer == NULL)
    err = UV_ENOMEM;
  if (err == 0) {
    sock->peer = peer;
    err = watch_connection(rt, peer);
  }
  if (err == 0 && zmq_connect(sock->zs, endpoint) != 0)
    err = zmq_errno() == EINVAL || zmq_errno() == EPROTONOSUPPORT ? UV_EINVAL : rt_errno();
  if (err != 0) {
    if (peer != NULL) {
      if (peer->monitor != NULL)
        sock_close(peer->monitor);
      peer_free(peer);
    }
    sock_close(sock);
    return err;
  }
  peer->session = random_u64();
  peer->hello_at = uv_now(rt->loop);
  (void)send_node_map(peer, UVA__WIRE_HELLO);
  return 0;
}

static void send_heartbeat(peer_t *peer) {
  uva__wire_header_t h = {0};

  h.type = UVA__WIRE_HEARTBEAT;
  h.session = peer->session;
  sock_send(peer, &h, NULL, 0);
}

void rt_tick(rt_t *rt) {
  const uva__rnode_t *cfg = rt->cfg;
  uint64_t now = uv_now(rt->loop);
  uva__link_t *link;
  uva__link_t *next;
  peer_t *peer;

  for (link = rt->peers.next; link != &rt->peers; link = next) {
    next = link->next;
    peer = uva__container_of(link, peer_t, link);
    if (peer->unreachable) {
      peer_down(peer, UV_ECONNRESET, "the connection broke; what was in flight may be lost");
      continue;
    }
    /* connected_at may be a millisecond ahead of now (| 1, read after the poll of this very turn). */
    if (!peer->up && peer->connected_at != 0 && now >= peer->connected_at &&
        now - peer->connected_at >= cfg->timeout_ms) {
      char text[128];
      snprintf(text, sizeof(text),
               "no answer to HELLO for %u ms: the other side is no uvactor node, or one of another version",
               cfg->timeout_ms);
      rt_handshake_refused(peer->monitor, UV_EPROTO, text);
    }
    if (!peer->up) {
      /* A client keeps asking: the server may not be there yet, or may have lost the HELLO. */
      if (peer->sock->kind == SOCK_DEALER && now - peer->hello_at >= 4 * (uint64_t)cfg->heartbeat_ms) {
        peer->hello_at = now;
        (void)send_node_map(peer, UVA__WIRE_HELLO);
      }
      continue;
    }
    if (now - peer->last_rx >= cfg->timeout_ms) {
      char text[96];
      snprintf(text, sizeof(text), "no frame from the peer for %u ms (heartbeats stopped)", cfg->timeout_ms);
      peer_down(peer, UV_ETIMEDOUT, text);
      continue;
    }
    if (now - peer->last_tx >= cfg->heartbeat_ms)
      send_heartbeat(peer);
  }
  chan_tick(rt, now);
  rt_maybe_finish(rt); /* a session timed out above may have held it (peer_down) */
}
