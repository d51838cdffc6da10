/* Internal: the transport actor, its sockets, peers and channels.
 *
 * One transport per process (uva_node_init() spawns it) owns every ZeroMQ socket, on its own thread and
 * loop: ZeroMQ sockets are not thread-safe. Programs reach it through ports only: commands on the actor's
 * port (node.c, ractor.c), channels whose local end it holds, and events back to the node's loop.
 *
 * Everything here runs on the transport's thread, but the release list (sockets.c), which ZeroMQ's I/O
 * thread feeds.
 */
#ifndef UVA_REMOTE_TRANSPORT_H
#define UVA_REMOTE_TRANSPORT_H

#include <zmq.h>

#include "common/alloc.h"
#include "common/list.h"
#include "remote/wire.h"
#include "uvactor.h"
#include "uvactor/remote.h"

/* What uva_node_init() copies from its options, shared read-only with the transport. */
typedef struct uva__rnode_s {
  char name[UVA_NODE_NAME_MAX + 1];
  char public_key[UVA_REMOTE_KEY_LEN + 1];
  char secret_key[UVA_REMOTE_KEY_LEN + 1];
  int secure;
  char **allow; /* NULL-terminated */
  unsigned int heartbeat_ms;
  unsigned int timeout_ms;
  unsigned int linger_ms;
  size_t max_message;
  unsigned int window_messages;
  size_t window_bytes;
  uva_remote_main_t *mains;
  size_t nmains;
  struct uva__onloop_s *on_loop; /* a transport on the node's loop: the node's side of it (node.c); NULL: the
                                    transport is an actor */
  char failure[128]; /* the transport actor's error, written by the node's thread once it failed (node.c) */
} uva__rnode_t;

typedef struct rt_s rt_t;
typedef struct sock_s sock_t;
typedef struct peer_s peer_t;
typedef struct chan_s chan_t;

/* A FIFO of messages, for the transport's own queues (a message's link is the library's), each with the
 * bytes it counts for in the credit (its body and its moved buffers) and, for a call's request or reply,
 * what the header says of it. */
typedef struct {
  uva_msg_t *msg; /* NULL: a reply without a body (status < 0) */
  size_t bytes;
  uint64_t upto;     /* in a channel's queued: its bytes and those of every message queued before it */
  uint64_t call_id;  /* a REQUEST from the wire: the peer's id; a REPLY: the id of the call it answers */
  int32_t status;    /* a REPLY: 0, the callee's code (> 0) or why there is no answer (< 0) */
  uint8_t call_kind; /* UVA__WIRE_CALL_* */
} mq_item_t;

typedef struct {
  mq_item_t *items;
  size_t head;
  size_t len;
  size_t cap;
} mq_t;

/* The requests a channel sent and holds until their replies (held.c): ids to messages. */
typedef struct {
  uint64_t id;
  uva_msg_t *request; /* NULL: a free slot */
} held_entry_t;

typedef struct {
  held_entry_t *slots;
  size_t cap;
  size_t count;
} held_t;

enum { SOCK_ROUTER = 1, SOCK_DEALER, SOCK_ZAP, SOCK_MONITOR };

struct sock_s {
  rt_t *rt;
  void *zs;
  int kind;
  uv_poll_t poll;
  int dirty;        /* sent on since its events were last looked at */
  int draining;     /* inside drain_frames(): what it calls must not read this socket again */
  peer_t *peer;     /* DEALER: the one peer it reaches; MONITOR: the dealer's */
  char *endpoint;   /* DEALER: where it connects */
  int refused;      /* MONITOR: a handshake failure was reported since the last success */
  uva__link_t link; /* in rt->socks */
};

struct peer_s {
  rt_t *rt;
  sock_t *sock;    /* a DEALER of its own, or the ROUTER (then rid says which connection) */
  sock_t *monitor; /* DEALER: its connection's monitor (handshakes, breaks) */
  unsigned char rid[255];
  size_t rid_len;
  char name[UVA_NODE_NAME_MAX + 1]; /* "" until a handshake */
  uint64_t instance;                /* the node's, as its node map said; 0: unsaid */
  uint64_t session;                 /* the session id both sides put in every frame; a client picks it */
  uint64_t max_message;             /* the largest frame it accepts, as its node map said; 0: unsaid */
  int batch;                        /* its node map says it reads BATCH frames (batch.c) */
  int up;                           /* the handshake completed */
  int unreachable;                  /* ROUTER: a send found its connection gone; rt_tick() ends it */
  uint64_t last_rx;                 /* uv_now() of the last frame from it */
  uint64_t last_tx;                 /* of the last frame to it */
  uint64_t hello_at;                /* client: of its last HELLO */
  uint64_t connected_at;            /* client: when ZeroMQ's handshake on its connection succeeded, while no
                                       session came up on that connection; 0: none */
  uva__link_t chans;                /* its channels */
  uva__link_t link;                 /* in rt->peers */
};

enum { CHAN_PORT = 1, CHAN_ACTOR, CHAN_RACTOR };

struct chan_s {
  rt_t *rt;
  peer_t *peer; /* NULL while an opener waits for its peer, and once the peer is gone */
  uint64_t id;
  int opener;            /* this side opened it */
  int kind;              /* PORT: port is the local end; ACTOR: an actor spawned here for the peer;
                            RACTOR: an actor spawned there for this node (port and control) */
  uva_port_t port;       /* PORT, RACTOR: the local end, started on the transport's loop once open */
  uva_port_t reply;      /* opener of PORT: where the open's answer goes; RACTOR: the remote actor's
                            events (the control port), which also carries terminate */
  uva_actor_t actor;     /* ACTOR */
  uva_name_req_t lookup; /* acceptor of PORT: the open of the name in this process's registry */
  int lookup_pending;
  char *name; /* opener: the peer's node name, then what it opens (a name, a main) */
  char *target;
  char *actor_name;  /* RACTOR: the actor's name there */
  uva_msg_t *init;   /* RACTOR: the init message, until the OPEN is sent */
  uint64_t deadline; /* opener: when the open times out (uv_now()) */
  int open_sent;     /* opener: its OPEN went to the peer, which may accept after this side gave up */
  int open;          /* ACCEPT sent or received */
  int local_closed;  /* the local end's close callback ran (ACTOR: its exit) */
  int local_closing; /* uva_port_close() was called on the local end (ACTOR: terminate) */
  int close_sent;
  int close_rcvd;
  int failed;            /* chan_fail() ran */
  int exit_pending;      /* ACTOR: exited; EXIT goes once the outbox is empty */
  int terminate_pending; /* RACTOR: terminate was asked before the ACCEPT */
  int handling; /* frames or a flush about it being handled, nested as a drain nests: not freed under them */
  int exit_code;
  char *error_text;        /* ACTOR: what its error event said */
  uint64_t tx_seq;         /* the last DATA sent */
  uint64_t rx_seq;         /* the last DATA received */
  uint64_t last_close_seq; /* CLOSE: the last DATA the peer sent */
  int64_t credit_messages; /* what this side may still send */
  int64_t credit_bytes;
  uint64_t peer_window_messages; /* the peer's window, as its first grant said */
  uint64_t peer_window_bytes;
  int64_t rx_credit_messages; /* what the peer may still send: granted, not spent */
  int64_t rx_credit_bytes;
  uint64_t owed_messages; /* credit earned by the peer, not sent back yet */
  uint64_t owed_bytes;
  mq_t outbox;           /* local messages (and replies) waiting for credit */
  mq_t backlog;          /* messages from the peer waiting for room in the local queue */
  mq_t queued;           /* the sizes (bytes) of those in the local queue, not taken yet: their credit */
  uint64_t queued_upto;  /* the upto of the last message queued */
  size_t drain_step;     /* how many of them must be taken for a CREDIT to be due; 0: to be counted */
  size_t drain_target;   /* the local queue's length at which the drain callback was asked for */
  int drain_asked;       /* it was asked for (uva_port_on_drain()) and has not run */
  held_t held;           /* requests sent, waiting for their replies */
  uint64_t next_call_id; /* the last id given to a request sent */
  int flush_due;         /* on rt->flushing: its backlog is posted once the socket is read */
  uva__link_t flush_link;
  unsigned char *batch; /* a BATCH body being built (batch.c), kept between batches */
  size_t batch_len;     /* 0: none pending */
  size_t batch_cap;
  uint64_t batch_seq; /* the seq of its first entry */
  int batch_listed;   /* on rt->batching: a batch pending, or a failed send's channel to free */
  uva__link_t batch_link;
  uva__link_t link; /* in its peer's chans, or rt->waiting */
};

struct rt_s {
  uva_port_t *port; /* to the node: commands come in, events go out (the actor's own port, or on the node's
                       loop, the transport's end of the node's channel) */
  uv_loop_t *loop;
  const uva__rnode_t *cfg;
  void *ctx;
  sock_t *router; /* the listening socket, once something is listened on */
  sock_t *zap;    /* the CURVE allow list (auth.c), with keys */
  uva__link_t socks;
  uva__link_t peers;
  uva__link_t waiting;  /* channels whose opener waits for a session with their peer */
  uva__link_t flushing; /* channels whose backlog came in the socket read now (chan_flush_deliveries()) */
  uva__link_t batching; /* channels with a batch to send (batch.c) */
  uv_timer_t tick;
  uv_timer_t linger; /* closing: when the channels still sending are given up */
  uv_prepare_t pump;
  uv_idle_t again; /* active while a socket has input left over: the loop must not block */
  uv_async_t released;
  int dirty;               /* some socket was sent on */
  unsigned int turn_opens; /* OPENs from the wire taken since the loop's last prepare (sockets.c) */
  int closing;
  int finish_held;  /* > 0 while peers are walked: finishing would free them under the walk */
  int self_closing; /* the transport closed its port to the node, last */
  int self_closed;
  int handles;             /* of tick, linger, pump, again, released and the sockets' polls, not yet closed */
  unsigned int generation; /* the process's, at the start (rt_inherited()) */
  unsigned int nchans;
  uint64_t next_channel;
  unsigned int monitors; /* inproc endpoints made for monitors */
  uint64_t instance;     /* this node's, in its node maps: random, made at the first */
  uint64_t bad_frames;
  uv_mutex_t release_lock;
  struct release_s *release_head; /* [release_lock] */
};

/* ---- sockets.c ------------------------------------------------------------------------------------ */

/* A frame to send: the bytes and, for a zero-copy one, what releases them. */
typedef struct {
  const void *data;
  size_t len;
  uva_free_cb free_cb; /* NULL: copied */
  void *owner;         /* what free_cb is called with; NULL: data */
} frame_t;

int rt_sockets_init(rt_t *rt);
void rt_sockets_close(rt_t *rt);
/* A new socket of kind, watched by the loop; NULL on error (errno says). */
sock_t *sock_new(rt_t *rt, int kind);
void sock_close(sock_t *sock);
/* Sends header h and frames to peer. Zero-copy frames are released (on this thread) once ZeroMQ is done,
 * whatever the outcome. 0 or an error; 0 too for a ROUTER's peer whose connection is gone: the frames are
 * lost, and its session ends at once (rt_peer_unreachable()). */
int sock_send(peer_t *peer, const uva__wire_header_t *h, const frame_t *frames, size_t nframes);
/* Sends a header-only frame on sock to routing id rid (ROUTER) or on its own (DEALER, rid NULL). */
int sock_send_raw(sock_t *sock, const unsigned char *rid, size_t rid_len, const uva__wire_header_t *h,
                  const void *body, size_t body_len);
/* Reads what sock has, up to a turn's share (the rest waits for the next pump), then posts what came to the
 * local ends (chan_flush_deliveries()). The caller holds the finish (finish_held): a frame may end a closing
 * node's last channel, and its sockets must not close under the read (rt_pump() drains in its walk). */
void sock_drain(sock_t *sock);
/* Sends the batches, then looks at every socket sent on until none has input left (ZMQ_FD is
 * edge-triggered). */
void rt_pump(rt_t *rt);
/* The loop pumps before it may block again. */
void rt_pump_soon(rt_t *rt);
/* Looks at every socket, whether sent on or not. */
void rt_pump_all(rt_t *rt);
void rt_set_common_options(rt_t *rt, void *zs);
/* 0 if enough descriptors are left for a command that makes sockets, binds or connects; else UV_EMFILE (or
 * what else the system said). */
int rt_fds_left(void);
int rt_errno(void);
/* A close callback for a handle of rt's that rt->handles counts: the last one lets the transport end. */
void rt_handle_closed(uv_handle_t *handle);
/* Whether rt is a fork() child's copy of its parent's transport (transport.c). */
int rt_inherited(const rt_t *rt);

/* ---- peer.c --------------------------------------------------------------------------------------- */

/* A frame arrived on sock: frames[0] the header (after the routing id on a ROUTER). */
void rt_on_frames(sock_t *sock, const unsigned char *rid, size_t rid_len, zmq_msg_t *frames, size_t n);
void rt_tick(rt_t *rt);
/* A send to peer found its connection gone: its session ends at the next tick, which comes now. */
void rt_peer_unreachable(peer_t *peer);
peer_t *rt_peer_by_name(rt_t *rt, const char *name);
int rt_connect(rt_t *rt, const char *endpoint, const char *server_key);
void peer_down(peer_t *peer, int status, const char *text);
void peer_free(peer_t *peer);
/* Counts a frame that was dropped as malformed. */
void rt_bad_frame(rt_t *rt, const char *why);
/* Sends the node's event to its loop. */
void rt_event(rt_t *rt, int type, const char *peer, const char *endpoint, uint64_t channel, int status,
              const char *text);
void rt_handshake_refused(sock_t *monitor, int status, const char *text);
/* ZeroMQ's handshake on the connection of monitor's DEALER succeeded: a node there answers HELLO. */
void rt_connection_made(sock_t *monitor);
/* The connection of monitor's DEALER broke: ZeroMQ reconnects it, but what was in flight may be lost. */
void rt_connection_broke(sock_t *monitor);

/* ---- channel.c ------------------------------------------------------------------------------------ */

/* The command of an open or spawn (node.c, ractor.c): channel made, ports taken. */
chan_t *chan_new(rt_t *rt, int kind);
/* Opens it, or, status < 0, fails it with status: the program's side hears either. */
void chan_start_open(chan_t *chan, int status);
/* A frame about a channel, from a peer that is up. */
void chan_on_frame(peer_t *peer, const uva__wire_header_t *h, zmq_msg_t *frames, size_t n);
/* Posts what came from the wire to the local ends, a run per channel: after a socket was read. */
void chan_flush_deliveries(rt_t *rt);
/* The peer is gone: every channel of it fails. */
void chan_peer_lost(peer_t *peer, int status, const char *text);
/* A session came up: the channels waiting for it send their OPEN. */
void chan_peer_up(peer_t *peer);
/* Opens that waited too long time out. */
void chan_tick(rt_t *rt, uint64_t now);
void chan_fail(chan_t *chan, int status, const char *text);
/* Frees the channel if it is done and nothing holds it. */
void chan_maybe_free(chan_t *chan);
/* The node closes: every channel ends; orderly, an open port's channel first sends what its local end holds
 * (the rest fail at once, and so do those left when the node's linger runs out). */
void chan_close_all(rt_t *rt, int orderly);

/* Fills a header about chan, with the credit it owes the peer; for any type but BATCH, sends the channel's
 * batch first (its frame follows the batch's messages). 0, or UV_EPIPE: that send failed the channel, and
 * nothing more goes. */
int chan_header_init(chan_t *chan, uva__wire_header_t *h, int type);

/* ---- batch.c -------------------------------------------------------------------------------------- */

/* Whether chan's batch takes a message of size bytes now (a full batch is sent first). */
int chan_batch_room(chan_t *chan, size_t size);
/* Adds the DATA h numbers, with its body; the next pump sends the batch. */
void chan_batch_add(chan_t *chan, const uva__wire_header_t *h, const void *body, size_t len);
void chan_batch_flush(chan_t *chan);
void rt_flush_batches(rt_t *rt);
void chan_batch_free(chan_t *chan);

/* ---- auth.c --------------------------------------------------------------------------------------- */

/* Starts the ZAP handler that checks CURVE clients against the allow list. */
int rt_auth_start(rt_t *rt);
void rt_auth_on_request(sock_t *zap);

/* ---- node.c -------------------------------------------------------------------------------------- */

/* uva_node_t.state_ */
#define UVA__NODE_RUNNING 0x72656d31u
#define UVA__NODE_CLOSING 0x72656d32u

/* 0 for a running node, UV_EPIPE for one that is closing, UV_EINVAL for NULL or anything else. Any thread. */
int uva__node_usable(const uva_node_t *node);
/* Where a running node's commands go. */
uva_port_t *uva__node_commands(uva_node_t *node);
/* A transport on the node's loop freed itself, its last step. */
void uva__node_transport_gone(struct uva__onloop_s *on_loop);

/* ---- transport.c ---------------------------------------------------------------------------------- */

/* The transport actor's main. */
int uva__transport_main(uva_self_t *self);
/* Starts a transport on loop (the calling thread's), reached through port, which it starts; 0 or an error.
 * *out is the transport once its port started: a failure after that leaves it to end on the loop, as a
 * closed transport does (its last step: the port's close callback, then uva__node_transport_gone() for a
 * node with cfg->on_loop); a failure before leaves nothing and *out NULL. */
int uva__transport_start(uv_loop_t *loop, const uva__rnode_t *cfg, uva_port_t *port, rt_t **out);
/* Runs a command at once, on the loop's thread (a node whose transport runs on its loop). */
void uva__transport_command(rt_t *rt, uva_msg_t *msg);
/* Called when a channel is freed or a socket closed while closing: the transport ends when nothing is left.
 */
void rt_maybe_finish(rt_t *rt);
/* Runs the tick (heartbeats, timeouts, lost peers) at the loop's next turn, not a period later. */
void rt_tick_soon(rt_t *rt);

/* Message queues. */
int mq_push(mq_t *q, const mq_item_t *item);
/* The oldest item, or NULL (mq_pop: taken off the queue; valid until the next push). */
const mq_item_t *mq_peek(const mq_t *q);
const mq_item_t *mq_pop(mq_t *q);
void mq_free_all(mq_t *q);

/* ---- held.c --------------------------------------------------------------------------------------- */

int held_put(held_t *t, uint64_t id, uva_msg_t *request);
/* The request held under id, taken out; NULL if none (a late or unknown reply). */
uva_msg_t *held_take(held_t *t, uint64_t id);
/* Frees every request held (unanswered: their calls complete with UV_ECONNRESET, or failed already). */
void held_free_all(held_t *t);

#endif /* UVA_REMOTE_TRANSPORT_H */
