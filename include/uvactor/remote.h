/* uvactor remote: ports and actors across processes and machines, over ZeroMQ.
 *
 * A separate library (libuvactor-remote, pkg-config uvactor-remote) and header: a program that wants it
 * includes <uvactor/remote.h> after <uvactor.h>. docs/remote.md describes the wire protocol, so that a
 * program in another language can take part.
 *
 * A node is a process that takes part: uva_node_init() starts its transport, one actor that owns every
 * ZeroMQ socket of the process; the node listens on endpoints (tcp://, ipc://) and connects to other nodes.
 * Nodes know each other by name (uva_node_options_t.name), given in the handshake. Programs do not see
 * sockets: they get ports.
 *
 * Remote ports: uva_remote_open() asks a node for a channel to a name held there and gives a new local
 * uva_port_t whose peer is on the other node; it behaves as any port: post, receive, start, close, bounds
 * and the writable callback, and calls (uvactor/call.h), whose id travels in the frame's header. Remote
 * actors: a node registers actor main functions by name (uva_node_options_t.mains); another node spawns one
 * with uva_remote_spawn() and gets the events a parent gets, in the same order: online, messages, error,
 * exit; its id here (uva_remote_actor_id()) is watched by monitors as any actor's.
 *
 * What crosses: the msgpack body, unchanged, and moved buffers (uva_msg_pack_buffer()), sent without a copy
 * and released on the transport's thread once ZeroMQ is done with them, so their free function needs no
 * care about threads beyond what a post already asks. Shared buffers cannot cross machines, and ports are
 * not carried across: the transport cannot see such a message until it was posted, so the channel it was
 * posted on closes (UVA_NODE_CHANNEL_DOWN, status UV_EINVAL) instead of the post failing.
 *
 * Flow control: every remote channel is bounded, in both directions, by a window of credits (window_messages
 * and window_bytes): a post beyond it fails with UV_EAGAIN and the writable callback says when there is
 * room, as for a bounded local port; the receiver's own bounds (uva_port_set_limits() on its port) hold the
 * window back, so a full remote port makes its senders wait. The transport's memory per channel is bounded.
 *
 * Failure: each node sends heartbeats; a peer silent for timeout_ms is lost, and so is a session whose
 * connection broke (ZeroMQ reconnects it, but what was in flight is lost): every channel to it closes (its
 * ports get their close callbacks after what was queued to them, every pending call fails with UV_EPIPE),
 * its remote actors end with UVA_EXIT_DISCONNECTED (their monitors too), and the event callback says why.
 * Messages are numbered per channel: nothing is delivered twice or out of order, and a message lost closes
 * its channel with UVA_NODE_CHANNEL_DOWN rather than pass unnoticed.
 *
 * Security: CURVE (encryption and authentication). A node that listens with a secret key accepts only the
 * public keys of its allow list; a node that connects names the server's public key. A node without keys
 * must say plaintext = 1: nothing is encrypted or authenticated then (loopback and ipc:// tests).
 *
 * Every frame from the wire is untrusted: sizes are capped (max_message), headers checked, bodies validated
 * with the limits of uva_msg_from_bytes(); a bad frame is dropped and counted, never delivered.
 *
 * Sizes: a node says its max_message in its handshake and keeps to its peers'. A post to a remote port whose
 * body or any one moved buffer is over the peer's max_message fails with UV_E2BIG, the message the
 * caller's (before a remote actor's session, this node's own max_message is the cap). One that got past it
 * (posted to a remote actor before its session, over the peer's smaller limit) never goes to the wire: its
 * channel closes (UVA_NODE_CHANNEL_DOWN, UV_E2BIG); a reply to a call over the caller's limit does not go
 * either, and the call fails there with UV_ECONNRESET. The session and its other channels live on. (A peer
 * that sent more anyway would lose its connection: ZeroMQ drops a connection with a frame over
 * ZMQ_MAXMSGSIZE, and the session ends.)
 */
#ifndef UVACTOR_REMOTE_H
#define UVACTOR_REMOTE_H

#include "actor.h"
#include "supervise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The exit code of a remote actor whose node was lost: its real end is unknown. */
#define UVA_EXIT_DISCONNECTED (-64)

/* The longest node name, in bytes. */
#define UVA_NODE_NAME_MAX 63
/* A CURVE key as text (Z85): 40 characters; buffers for one need 41 bytes. */
#define UVA_REMOTE_KEY_LEN 40
/* The smallest max_message a node takes. ZMQ_MAXMSGSIZE caps the protocol's own frames as well as messages,
 * and these must pass: ZeroMQ's handshake commands (under 1 KiB, with CURVE and a 255-byte routing id), the
 * 56-byte header, the node maps of HELLO and WELCOME (a node reads one of at most 4 KiB) and an OPEN's
 * names; below that a session would half-form or fail in silence. 64 KiB carries them with room to spare. */
#define UVA_NODE_MAX_MESSAGE_MIN (64 * 1024)

/* A node: this process's transport (its fields: struct uva_node_s). Caller-allocated, known by its address:
 * keep it valid, and never copy or move it, until its close callback. */
typedef struct uva_node_s uva_node_t;
/* A request to open a remote name (struct uva_remote_req_s): caller-allocated, valid until its callback. */
typedef struct uva_remote_req_s uva_remote_req_t;
/* An actor on another node (struct uva_remote_actor_s): caller-allocated, valid until its exit callback. */
typedef struct uva_remote_actor_s uva_remote_actor_t;

/* What the event callback is told. */
typedef enum {
  UVA_NODE_PEER_UP = 1,  /* a session with peer began: its handshake completed */
  UVA_NODE_PEER_DOWN,    /* the session with peer ended (status, text: why); every channel to it closes:
                            UVA_NODE_CHANNEL_DOWN follows for each open one, and its port's close
                            callback comes after what was queued to it (until then a read of the port may
                            find nothing and no close yet: UV_EAGAIN), in no fixed order with these events:
                            a port with messages queued delivers them and its close in its turn */
  UVA_NODE_REFUSED,      /* a connection to endpoint failed its handshake: UV_EACCES (keys refused),
                            UV_EALREADY (that node has a session with this one through another connection),
                            UV_EPROTO (the other side speaks something else: not ZeroMQ, or ZeroMQ but
                            no node: it answers HELLO in another protocol version, or not within
                            timeout_ms; or it says nothing: ZeroMQ's own handshake gets timeout_ms too,
                            ZMQ_HANDSHAKE_IVL); once per connection; the node keeps asking (HELLO every four
                            heartbeats), so a node that comes there later is a peer */
  UVA_NODE_CHANNEL_DOWN, /* channel (its id: see UVA_NODE_CHANNEL_PEER) closed for a reason other than a
                            close by either side: status and text say which */
  UVA_NODE_FAILED        /* the transport ended on its own, before any uva_node_close(): without on_loop, its
                            thread could not start it (text: why; status UV_ECANCELED). The node is closed
                            once the callback returns: the handle's memory is the caller's then, and
                            uva_node_init() may start a node again. No close callback comes, but that of a
                            uva_node_close() made in this callback, run as it returns */
} uva_node_event_type;

/* Channel ids are given by the node that opens: one this node opened (uva_remote_open(),
 * uva_remote_spawn()) is named by the id its request or remote actor says (uva_remote_req_t.channel,
 * uva_remote_actor_t.channel); one the peer opened here (to a name of this process, or a spawn of one of
 * its mains) by the peer's id with this bit set, so that the two never meet. */
#define UVA_NODE_CHANNEL_PEER (UINT64_C(1) << 63)

/* An event; every pointer is borrowed for the callback. */
typedef struct {
  uva_node_event_type type;
  const char *peer;     /* the other node's name; NULL when unknown (REFUSED) */
  const char *endpoint; /* REFUSED: the endpoint of the connection; else NULL */
  uint64_t channel;     /* CHANNEL_DOWN: the channel's id (UVA_NODE_CHANNEL_PEER set if the peer opened
                           it); else 0 */
  int status;           /* a negative error code: UV_ETIMEDOUT (heartbeats stopped), UV_ECONNRESET (the peer
                           restarted, closed its node or ended its session, or the connection broke),
                           UV_EPROTO (a message was lost), UV_EINVAL (a message that cannot cross), UV_E2BIG
                           (a message over the peer's max_message, or with more than 64 moved buffers),
                           UV_EACCES, UV_ECANCELED (the node closed) */
  const char *text;     /* the same, for a person */
} uva_node_event_t;

/* Something happened to the node's peers or channels; runs on the node's loop. */
typedef void (*uva_node_event_cb)(uva_node_t *node, const uva_node_event_t *event);
/* The node is closed: its transport ended, every channel is closed. The handle's memory is the caller's. */
typedef void (*uva_node_close_cb)(uva_node_t *node);

/* An actor main function other nodes may spawn here by name. */
typedef struct {
  const char *name; /* 1..UVA_NODE_NAME_MAX bytes */
  uva_actor_main_cb main_cb;
} uva_remote_main_t;

/* Options of uva_node_init(); every field's zero is its default, but name, and keys or plaintext. */
typedef struct {
  const char *name;               /* this node's name, 1..UVA_NODE_NAME_MAX bytes (copied) */
  const char *secret_key;         /* this node's CURVE secret key (Z85), or NULL with plaintext */
  const char *public_key;         /* its public key (Z85), needed with secret_key */
  const char *const *allow;       /* the public keys a listening node accepts, NULL-terminated (copied); with
                                     secret_key, a client whose key is not there is refused */
  int plaintext;                  /* 1: no CURVE at all; required when secret_key is NULL */
  unsigned int heartbeat_ms;      /* a heartbeat after this long without sending; 0: 250 */
  unsigned int timeout_ms;        /* a peer silent this long is lost, and a connection whose ZeroMQ
                                     handshake takes longer is dropped (ZMQ_HANDSHAKE_IVL); 0: 3000; at
                                     least 2 heartbeats */
  unsigned int linger_ms;         /* how long closing waits for what open ports' channels hold, then
                                     for frames still queued (ZMQ_LINGER), each; 0: 100 */
  size_t max_message;             /* the largest body or buffer accepted from the wire (ZMQ_MAXMSGSIZE),
                                     said to peers, which send no more; 0: 64 MiB; at least
                                     UVA_NODE_MAX_MESSAGE_MIN */
  unsigned int window_messages;   /* credits per channel and direction, in messages; 0: 4096 */
  size_t window_bytes;            /* and in bytes; 0: 8 MiB */
  const uva_remote_main_t *mains; /* the actor mains other nodes may spawn here (copied), or NULL */
  size_t nmains;
  uva_node_event_cb event_cb; /* on the node's loop; may be NULL */
  int on_loop;                /* 1: the transport runs on the node's loop, not on a thread of its own (see
                                 uva_node_init()) */
  void *reserved[7];          /* zero */
} uva_node_options_t;

/* Private: what a node holds after UVA_HANDLE_FIELDS. */
#define UVA_NODE_PRIVATE_FIELDS                                                \
  uva_actor_t transport_; /* the transport actor; its events are the node's */ \
  uva_node_event_cb event_cb_;                                                 \
  uva_node_close_cb close_cb_;                                                 \
  struct uva__rnode_s *impl_;

/* A node: this process's transport. Public: data. Read-only: loop (where its callbacks run) and type
 * (UVA_NODE). */
struct uva_node_s {
  UVA_HANDLE_FIELDS
  UVA_NODE_PRIVATE_FIELDS
};

/* Makes this process a node: starts its transport, whose events run on loop (the calling thread's). The
 * transport is an actor, a thread of its own, unless options->on_loop: then it runs on loop (its sockets,
 * timers and its ends of the channels), which takes a thread's wakeup off each way between a port started
 * on loop and the wire, at the price of loop's time. Its work, every channel's, is then done only while loop
 * runs: a callback that holds loop holds every channel and the heartbeats (peers lose a node silent for
 * their timeout_ms), and on loop's thread a wait for what the transport must do (uva_port_post_wait() for
 * room on a remote port, uva_port_call_wait() on one) lasts until its timeout. On loop's thread
 * uva_node_listen() and uva_node_connect() run at once; from another thread they wait for loop to run them.
 * One node per process at a time; a fork() child may start its own (the node it inherited is its parent's:
 * calls on it, and on its remote ports and actors, return UVA_EFORKED). options is copied. Returns 0,
 * UV_EINVAL (NULL node, loop or options, a name missing, empty or too long, keys that are not Z85 keys, a
 * secret key without its public key, neither keys nor plaintext, or both, timeout_ms under two heartbeats,
 * max_message under UVA_NODE_MAX_MESSAGE_MIN, a main without a name or main_cb, nmains without mains),
 * UV_EBUSY (a node runs in this process), UV_ENOTSUP (libzmq without CURVE, for keys), UV_ENOMEM, UV_EMFILE
 * (fewer than 16 descriptors left, as uva_node_listen() says; on_loop: ZeroMQ's context could not be made),
 * UV_EPERM (on_loop: loop belongs to another thread, as the first port started on it says), UVA_EFORKED
 * (loop was inherited through fork()), or what uva_actor_spawn() returns. With on_loop, what a
 * failed call made of the transport ends on loop's next turn, with no callback. Without on_loop, the
 * transport starts on its thread after this returned: should it fail there (memory, or descriptors another
 * thread took meanwhile), the node's calls return UV_EPIPE and the node ends with a UVA_NODE_FAILED event,
 * its last callback. */
UVA_EXTERN int uva_node_init(uva_node_t *node, uv_loop_t *loop, const uva_node_options_t *options);

/* Listens on endpoint ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:*" for a port the system picks,
 * "ipc:///tmp/x"); *bound (size bytes, may be NULL) gets the endpoint as bound, with the port chosen. Waits
 * for the transport's answer (it does not wait for the network). Any thread. Returns 0, UV_EINVAL (NULL node
 * or endpoint, a malformed endpoint: a tcp:// one without a host or interface, or whose port is neither "*"
 * nor a number up to 65535 with nothing after it, an IPv6 address or libzmq's "source;destination"; or one
 * of a transport other than tcp:// and ipc://), ENODEV (a tcp:// interface that is no local interface or
 * address: a host name such as localhost is not one),
 * UV_EADDRINUSE (a
 * port, or an ipc:// path, where this node or another process listens; an ipc:// socket file nobody listens
 * on is taken over), UV_ENOBUFS (bound too small: the listen still happened), UV_EPIPE (the node is closing),
 * UVA_EFORKED (the node was inherited through fork()), UV_EMFILE (fewer than 16 descriptors left: libzmq
 * would abort the process where it cannot make one of its own, so neither listen nor connect goes that
 * close to the limit) or another error of the system's. */
UVA_EXTERN int uva_node_listen(uva_node_t *node, const char *endpoint, char *bound, size_t size);

/* Connects to the node listening at endpoint. server_key is that node's public key (Z85), required when
 * this node has keys, NULL with plaintext. Returns once the transport has the connection in hand; the
 * handshake follows (UVA_NODE_PEER_UP, or UVA_NODE_REFUSED; while nothing listens there, neither:
 * ZeroMQ keeps trying), and ZeroMQ reconnects by itself when the connection breaks. Any thread. Returns 0,
 * UV_EINVAL (NULL, a malformed endpoint or key, an endpoint of a transport other than tcp:// and ipc://, a
 * tcp:// one without a host or whose port is not a number from 1 to 65535 with nothing after it, an IPv6
 * address, libzmq's "source;destination", "ipc://" followed by "*", a key missing or given against the
 * node's mode), UV_EALREADY (this node connects to endpoint already), UV_EPIPE (the node is closing),
 * UVA_EFORKED (inherited through fork()), UV_ENOMEM or UV_EMFILE (no socket left, or fewer than 16
 * descriptors: see uva_node_listen()). The connections of one node to another carry one session: a second
 * connection to a node it has a session with (another endpoint of that node, or another spelling of one) is
 * refused by that node at its handshake (UVA_NODE_REFUSED, UV_EALREADY) and keeps asking, so that it takes
 * over when the first connection goes (the old session ends here then, before the new one's
 * UVA_NODE_PEER_UP). A node may connect to its own endpoint (a session with itself, under its own name:
 * its opens and spawns by that name go through the transport), once. A node that connects to one that
 * connects back to it has a session each way, each with its own events and channels: let one side listen
 * and the other connect. */
UVA_EXTERN int uva_node_connect(uva_node_t *node, const char *endpoint, const char *server_key);

/* Closes the node: every channel closes (UVA_NODE_CHANNEL_DOWN is not reported for them). A remote port's
 * channel that is open closes as a program's uva_port_close() closes it, whether the program closed its
 * port first or not: what was posted to it before this call, and after it until the transport closes the
 * port's channel (from then on a post fails with UV_EPIPE), is sent as the peer's credit allows, then the
 * peer's port gets its close callback after those messages; this side's port gets its close too (after
 * what was queued to it; what the peer posts from then on is dropped). That waits at most linger_ms
 * (for a peer that is slow to take them, or stopped): what is still unsent then is dropped, its peer told
 * (its channel goes down, UV_ECONNRESET, "the peer closed its node"), this side not, so a program that must
 * know its last messages arrived ends with a call (its reply comes after them). Meanwhile the node refuses
 * opens and spawns from peers (UV_ECONNRESET). Every other channel closes at once: an open or a spawn under
 * way fails with UV_ECANCELED (under way at the transport: one the peer accepted before the transport took
 * this close, whose answer had not reached its loop yet, reports 0 all the same, and its port is an open
 * channel's, closed as above, so its posts may be refused with UV_EPIPE at once; such a spawn's actor ends
 * as the remote actors below); actors this node runs for peers are terminated; remote actors spawned here
 * are told to end (their node terminates them, if the word reaches it) and end here with
 * UVA_EXIT_DISCONNECTED, not UVA_EXIT_TERMINATED: a closed node cannot hear how they really ended (one
 * still waiting for a session ends with UV_ECANCELED). Then each peer is told the session ends, sockets
 * close after at most linger_ms more (ZMQ_LINGER), the transport ends, and close_cb (may be NULL) runs on
 * the node's loop. Thread: the node's loop's. Returns 0, UV_EINVAL (NULL, not initialized), UV_EALREADY
 * (closing), UV_EPERM or UVA_EFORKED (inherited through fork(): the transport is the parent's, and the
 * child's copy needs no closing). */
UVA_EXTERN int uva_node_close(uva_node_t *node, uva_node_close_cb close_cb);

/* Makes a CURVE key pair as Z85 text (41 bytes each, NUL-terminated). Returns 0, UV_EINVAL (NULL) or
 * UV_ENOTSUP (libzmq without CURVE). Thread-safe. */
UVA_EXTERN int uva_remote_keypair(char public_key[UVA_REMOTE_KEY_LEN + 1],
                                  char secret_key[UVA_REMOTE_KEY_LEN + 1]);

/* Remote ports: a channel to a name another node holds, a local port at this end. */

/* The open finished: status 0 and the port is a new port (start it on any loop, or use it without one); or
 * an error and the port is no port (its memory is the caller's). The request's memory is the caller's. */
typedef void (*uva_remote_open_cb)(uva_remote_req_t *req, int status);

/* Private: what an open request holds after UVA_HANDLE_FIELDS. */
#define UVA_REMOTE_REQ_PRIVATE_FIELDS                              \
  uva_port_t reply_; /* started on loop: the transport's answer */ \
  uva_port_t *port_;                                               \
  uva_remote_open_cb open_cb_;                                     \
  int status_;

/* A request to open a remote name. Public: data. Read-only: loop, type (UVA_REMOTE_REQ), and channel: the
 * channel's id once the open succeeded (what UVA_NODE_CHANNEL_DOWN names), else 0. */
struct uva_remote_req_s {
  UVA_HANDLE_FIELDS
  uint64_t channel;
  UVA_REMOTE_REQ_PRIVATE_FIELDS
};

/* Asks node peer for a channel to whoever holds name there (its name registry). open_cb runs once on loop
 * (the calling thread's), never inside this call: 0 and port is a new port whose peer is the holder's;
 * UV_ECONNREFUSED (nobody holds the name, or the holder did not accept); UV_ETIMEDOUT (no session with peer,
 * or no answer, within timeout_ms; < 0: 5000: if the holder accepts later, its port finds the channel
 * closed); UV_ECONNRESET (the peer was lost meanwhile, or is closing its node); UV_ECANCELED (the node
 * closed); UV_ENOMEM or UV_EMFILE (a transport, here or there, out of memory or descriptors). Returns 0,
 * UV_EINVAL (NULL argument, peer or name empty or too long), UV_EPIPE (the node is closing), UVA_EFORKED
 * (node or loop inherited through fork()), UV_EPERM (loop is run by another thread), UV_ENOMEM or UV_EMFILE;
 * on error open_cb never runs. */
UVA_EXTERN int uva_remote_open(uva_remote_req_t *req, uv_loop_t *loop, uva_node_t *node, const char *peer,
                               const char *name, int64_t timeout_ms, uva_remote_open_cb open_cb,
                               uva_port_t *port);

/* Remote actors: actors another node runs for this one, with a parent's events. */

/* The events of a remote actor, as actor.h's: online, messages, error, exit, in that order, on the
 * spawner's loop. The exit callback's code is UVA_EXIT_DISCONNECTED when its node was lost, and the spawn's
 * error (UV_ECONNREFUSED: no such main there; UV_ETIMEDOUT: an actor the peer starts after that is
 * terminated there; UV_ENOMEM...) when it never started. A message is
 * the callback's to free or keep; the error text is borrowed for the call; after the exit callback the
 * handle's memory is the caller's. */
typedef void (*uva_remote_online_cb)(uva_remote_actor_t *actor);
typedef void (*uva_remote_message_cb)(uva_remote_actor_t *actor, uva_msg_t *msg);
typedef void (*uva_remote_error_cb)(uva_remote_actor_t *actor, const char *text);
typedef void (*uva_remote_exit_cb)(uva_remote_actor_t *actor, int exit_code);

/* Options of uva_remote_spawn(); zero is every field's default. */
typedef struct {
  const char *name;   /* the actor's name on its node, as uva_actor_options_t's */
  uva_msg_t *init;    /* consumed on success: uva_self_init() there; moved buffers travel with it */
  int64_t timeout_ms; /* for the spawn's answer; < 0 or 0: 5000 */
  uva_remote_online_cb online_cb;
  uva_remote_message_cb message_cb; /* NULL: messages are freed */
  uva_remote_error_cb error_cb;
  uva_remote_exit_cb exit_cb;
  void *reserved[4]; /* zero */
} uva_remote_actor_options_t;

/* Private: what a remote actor handle holds after UVA_HANDLE_FIELDS. */
#define UVA_REMOTE_ACTOR_PRIVATE_FIELDS                                           \
  uva_port_t port_;    /* to the actor: the local end of its channel */           \
  uva_port_t control_; /* started on loop: online and exit, from the transport */ \
  uva_remote_online_cb online_cb_;                                                \
  uva_remote_message_cb message_cb_;                                              \
  uva_remote_error_cb error_cb_;                                                  \
  uva_remote_exit_cb exit_cb_;                                                    \
  char *error_;                                                                   \
  int exit_code_;                                                                 \
  unsigned int ended_;                                                            \
  uva_actor_proxy_t *proxy_; /* its id here, for monitors, until its end */       \
  uint64_t proxy_id_;

/* An actor on another node, seen from the node that spawned it. Public: data. Read-only: loop, type
 * (UVA_REMOTE_ACTOR), and channel (its channel's id, for UVA_NODE_CHANNEL_DOWN). Keep it valid until its exit
 * callback. */
struct uva_remote_actor_s {
  UVA_HANDLE_FIELDS
  uint64_t channel;
  UVA_REMOTE_ACTOR_PRIVATE_FIELDS
};

/* Spawns main_name, registered by node peer, there. The events run on loop (the calling thread's); exit
 * always comes, once. options may be NULL. Returns 0, UV_EINVAL (NULL actor, loop, node, peer or main_name,
 * names empty or too long), UV_EPIPE (the node is closing), UVA_EFORKED (node or loop inherited through
 * fork()), UV_EPERM, UV_ENOMEM or UV_EMFILE; on error the
 * init message stays the caller's and no callback runs. */
UVA_EXTERN int uva_remote_spawn(uva_remote_actor_t *actor, uv_loop_t *loop, uva_node_t *node,
                                const char *peer, const char *main_name,
                                const uva_remote_actor_options_t *options);

/* The port to the remote actor: post on it from any thread, as on uva_actor_port(); what is posted before
 * the actor is online waits, in order. Borrowed, valid until the exit callback; it cannot be transferred.
 * Closing it ends the channel: the actor's port gets its close there. NULL for NULL. */
UVA_EXTERN uva_port_t *uva_remote_actor_port(uva_remote_actor_t *actor);

/* The remote actor's id in this process (an actor proxy's, supervise.h): uva_monitor_start() watches it as
 * any actor's, and its monitors hear its end with the exit callback's code (UVA_EXIT_DISCONNECTED when its
 * node was lost). Set by a uva_remote_spawn() that returned 0, and kept after the exit callback; 0 for
 * NULL. Thread-safe. */
UVA_EXTERN uint64_t uva_remote_actor_id(const uva_remote_actor_t *actor);

/* Asks the remote actor to stop, as uva_actor_terminate(): its exit code is then UVA_EXIT_TERMINATED.
 * Thread: the actor handle's loop's. Returns 0, UV_EINVAL, UV_EALREADY (asked before, or ended), UV_EPERM
 * (another thread: unlike uva_actor_terminate(), whose handle any thread may use) or UVA_EFORKED (inherited
 * through fork()). */
UVA_EXTERN int uva_remote_terminate(uva_remote_actor_t *actor);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_REMOTE_H */
