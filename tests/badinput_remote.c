/* The bad-input rows of include/uvactor/remote.h (built with the remote transport: configure found libzmq).
 * Run by tests/test_badinput, which shows them in docs/errors.md's second generated section.
 *
 * The rows' handles are nodes, which the fixture does not know: each call makes the node it needs on the
 * fixture's loop (state S_NONE) and closes it before it returns, so that the fixture's teardown finds its
 * loop as it left it. A node is one per process, so a row that needs a second one sees UV_EBUSY. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "badinput.h"
#include "proc_counts.h"
#include "run_until.h"
#include "uvactor/remote.h"

typedef struct {
  uva_node_t node;
  int closed;
  int opened; /* open and spawn callbacks run */
} rnode_t;

static rnode_t rn;

static void on_rnode_closed(uva_node_t *node) {
  ((rnode_t *)node->data)->closed = 1;
}

static void rnode_init(fx_t *fx) {
  uva_node_options_t options = {.name = "badinput", .plaintext = 1};

  memset(&rn, 0, sizeof(rn));
  rn.node.data = &rn;
  ck_assert_int_eq(uva_node_init(&rn.node, fx->loop, &options), 0);
}

/* Closes the node (unless it is closing) and runs the loop until it is closed. */
static void rnode_close(fx_t *fx) {
  int err = uva_node_close(&rn.node, on_rnode_closed);

  if (err == UV_EALREADY)
    err = 0; /* the row closed it: close_cb was given there */
  ck_assert_int_eq(err, 0);
  ck_assert(run_until(fx->loop, &rn.closed, 1));
}

/* ---- nodes --------------------------------------------------------------------------------------- */

static char long_name[UVA_NODE_NAME_MAX + 2];

static const char *name_of(size_t len) {
  memset(long_name, 'n', len);
  long_name[len] = '\0';
  return long_name;
}

/* Closes a node the row made. */
static int node_init_with(fx_t *fx, uva_node_t *node, uv_loop_t *loop, const uva_node_options_t *options) {
  int err = uva_node_init(node, loop, options);

  if (err == 0) {
    rn.closed = 0;
    node->data = &rn;
    ck_assert_int_eq(uva_node_close(node, on_rnode_closed), 0);
    ck_assert(run_until(fx->loop, &rn.closed, 1));
  }
  return err;
}

#define NODE_INIT(fn, ...)                                         \
  static int fn(fx_t *fx) {                                        \
    uva_node_options_t o = {.name = "badinput", .plaintext = 1};   \
    uva_node_t node;                                               \
    char pub[UVA_REMOTE_KEY_LEN + 1], sec[UVA_REMOTE_KEY_LEN + 1]; \
    const char *allow[2] = {"not a key", NULL};                    \
    const uva_remote_main_t mains[1] = {{"main", NULL}};           \
                                                                   \
    ck_assert_int_eq(uva_remote_keypair(pub, sec), 0);             \
    (void)o;                                                       \
    (void)node;                                                    \
    (void)allow;                                                   \
    (void)mains;                                                   \
    __VA_ARGS__;                                                   \
  }

NODE_INIT(node_init_null, return node_init_with(fx, NULL, fx->loop, &o))
NODE_INIT(node_init_null_loop, return node_init_with(fx, &node, NULL, &o))
NODE_INIT(node_init_null_options, return node_init_with(fx, &node, fx->loop, NULL))
NODE_INIT(node_init_no_name, o.name = NULL; return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_empty_name, o.name = ""; return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_long_name, o.name = name_of(UVA_NODE_NAME_MAX + 1);
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_no_mode, o.plaintext = 0; return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_both, o.secret_key = sec; o.public_key = pub;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_bad_key, o.plaintext = 0; o.secret_key = "not a key"; o.public_key = pub;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_no_public, o.plaintext = 0; o.secret_key = sec;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_bad_allow, o.plaintext = 0; o.secret_key = sec; o.public_key = pub; o.allow = allow;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_timeout, o.heartbeat_ms = 100; o.timeout_ms = 199;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_small_max, o.max_message = UVA_NODE_MAX_MESSAGE_MIN - 1;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_max_min, o.max_message = UVA_NODE_MAX_MESSAGE_MIN;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_null_main, o.mains = mains; o.nmains = 1; return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_mains_null, o.nmains = 1; return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_keys, o.plaintext = 0; o.secret_key = sec; o.public_key = pub;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_timeout_min, o.heartbeat_ms = 100; o.timeout_ms = 200;
          return node_init_with(fx, &node, fx->loop, &o))
NODE_INIT(node_init_on_loop, o.on_loop = 1; return node_init_with(fx, &node, fx->loop, &o))

static int node_init_busy(fx_t *fx) {
  uva_node_options_t o = {.name = "second", .plaintext = 1};
  uva_node_t second;
  int err;

  rnode_init(fx);
  err = uva_node_init(&second, fx->loop, &o);
  rnode_close(fx);
  return err;
}

/* A call on the node: made while it runs, or once its close was asked (closing). */
#define ON_NODE(fn, closing, call)                                    \
  static int fn(fx_t *fx) {                                           \
    char small[4];                                                    \
    char pub[UVA_REMOTE_KEY_LEN + 1], sec[UVA_REMOTE_KEY_LEN + 1];    \
    int err;                                                          \
                                                                      \
    ck_assert_int_eq(uva_remote_keypair(pub, sec), 0);                \
    (void)small;                                                      \
    rnode_init(fx);                                                   \
    if (closing)                                                      \
      ck_assert_int_eq(uva_node_close(&rn.node, on_rnode_closed), 0); \
    err = (call);                                                     \
    rnode_close(fx);                                                  \
    return err;                                                       \
  }

static int listen_zeroed(fx_t *fx) {
  uva_node_t zeroed;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_node_listen(&zeroed, "tcp://127.0.0.1:*", NULL, 0);
}

static int listen_null(fx_t *fx) {
  (void)fx;
  return uva_node_listen(NULL, "tcp://127.0.0.1:*", NULL, 0);
}

ON_NODE(listen_null_endpoint, 0, uva_node_listen(&rn.node, NULL, NULL, 0))
ON_NODE(listen_bogus, 0, uva_node_listen(&rn.node, "bogus://x", NULL, 0))
ON_NODE(listen_udp, 0, uva_node_listen(&rn.node, "udp://127.0.0.1:5555", NULL, 0))
ON_NODE(listen_ws, 0, uva_node_listen(&rn.node, "ws://127.0.0.1:*", NULL, 0))
ON_NODE(listen_no_port, 0, uva_node_listen(&rn.node, "tcp://127.0.0.1", NULL, 0))
ON_NODE(listen_port_over, 0, uva_node_listen(&rn.node, "tcp://127.0.0.1:99999", NULL, 0))
ON_NODE(listen_port_junk, 0, uva_node_listen(&rn.node, "tcp://127.0.0.1:80x", NULL, 0))
ON_NODE(listen_port_negative, 0, uva_node_listen(&rn.node, "tcp://127.0.0.1:-1", NULL, 0))
ON_NODE(listen_no_host, 0, uva_node_listen(&rn.node, "tcp://:*", NULL, 0))
ON_NODE(listen_ipc_empty, 0, uva_node_listen(&rn.node, "ipc://", NULL, 0))
ON_NODE(listen_ipv6, 0, uva_node_listen(&rn.node, "tcp://[::1]:*", NULL, 0))
ON_NODE(listen_host_name, 0, uva_node_listen(&rn.node, "tcp://localhost:*", NULL, 0))
ON_NODE(listen_bound_null, 0, uva_node_listen(&rn.node, "tcp://127.0.0.1:*", NULL, 8))
ON_NODE(listen_small, 0, uva_node_listen(&rn.node, "tcp://127.0.0.1:*", small, sizeof(small)))
ON_NODE(listen_closing, 1, uva_node_listen(&rn.node, "tcp://127.0.0.1:*", NULL, 0))
/* Listens on an ipc:// path of the process's own, then there again; removes the socket file (libzmq leaves
 * it). */
static int listen_ipc_twice(void) {
  char endpoint[64];
  int err;

  snprintf(endpoint, sizeof(endpoint), "ipc:///tmp/uva-badinput-%d", (int)getpid());
  err = uva_node_listen(&rn.node, endpoint, NULL, 0);
  if (err == 0)
    err = uva_node_listen(&rn.node, endpoint, NULL, 0);
  unlink(endpoint + 6);
  return err;
}

ON_NODE(listen_ipc_in_use, 0, listen_ipc_twice())
ON_NODE(listen_ok, 0, uva_node_listen(&rn.node, "tcp://127.0.0.1:*", NULL, 0))

static int connect_null(fx_t *fx) {
  (void)fx;
  return uva_node_connect(NULL, "tcp://127.0.0.1:1", NULL);
}

ON_NODE(connect_null_endpoint, 0, uva_node_connect(&rn.node, NULL, NULL))
ON_NODE(connect_bogus, 0, uva_node_connect(&rn.node, "bogus://x", NULL))
ON_NODE(connect_udp, 0, uva_node_connect(&rn.node, "udp://127.0.0.1:5555", NULL))
ON_NODE(connect_ws, 0, uva_node_connect(&rn.node, "ws://127.0.0.1:1", NULL))
ON_NODE(connect_port_over, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:65536", NULL))
ON_NODE(connect_port_junk, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:1x", NULL))
ON_NODE(connect_port_zero, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:0", NULL))
ON_NODE(connect_port_any, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:*", NULL))
ON_NODE(connect_no_host, 0, uva_node_connect(&rn.node, "tcp://:5", NULL))
ON_NODE(connect_source, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:5000;127.0.0.1:1", NULL))
ON_NODE(connect_ipv6, 0, uva_node_connect(&rn.node, "tcp://[::1]:1", NULL))
ON_NODE(connect_ipc_any, 0, uva_node_connect(&rn.node, "ipc://*", NULL))
ON_NODE(connect_key_plaintext, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:1", pub))
ON_NODE(connect_bad_key, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:1", "not a key"))
ON_NODE(connect_closing, 1, uva_node_connect(&rn.node, "tcp://127.0.0.1:1", NULL))
ON_NODE(connect_nobody, 0, uva_node_connect(&rn.node, "tcp://127.0.0.1:1", NULL))
ON_NODE(connect_twice, 0,
        uva_node_connect(&rn.node, "tcp://127.0.0.1:1", NULL)
            ?: uva_node_connect(&rn.node, "tcp://127.0.0.1:1", NULL))

static int connect_missing_key(fx_t *fx) {
  uva_node_options_t o = {.name = "badinput"};
  char pub[UVA_REMOTE_KEY_LEN + 1], sec[UVA_REMOTE_KEY_LEN + 1];
  int err;

  ck_assert_int_eq(uva_remote_keypair(pub, sec), 0);
  o.secret_key = sec;
  o.public_key = pub;
  memset(&rn, 0, sizeof(rn));
  rn.node.data = &rn;
  ck_assert_int_eq(uva_node_init(&rn.node, fx->loop, &o), 0);
  err = uva_node_connect(&rn.node, "tcp://127.0.0.1:1", NULL);
  rnode_close(fx);
  return err;
}

static int close_null(fx_t *fx) {
  (void)fx;
  return uva_node_close(NULL, NULL);
}

static int close_zeroed(fx_t *fx) {
  uva_node_t zeroed;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_node_close(&zeroed, NULL);
}

ON_NODE(close_closing, 1, uva_node_close(&rn.node, NULL))

static void close_thread(void *arg) {
  *(int *)arg = uva_node_close(&rn.node, NULL);
}

static int close_other_thread(fx_t *fx) {
  uv_thread_t thread;
  int err;

  rnode_init(fx);
  ck_assert_int_eq(uv_thread_create(&thread, close_thread, &err), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  rnode_close(fx);
  return err;
}

static int closed_twice(fx_t *fx) {
  rnode_init(fx);
  rnode_close(fx);
  return uva_node_close(&rn.node, NULL);
}

/* A call made in a child process that inherited the running node through fork(): the node is the parent's,
 * whose transport thread the child has not, and the parent's node goes on (closed here after). */
#define IN_CHILD(fn, call)                \
  static int fn##_call(fx_t *fx) {        \
    (void)fx;                             \
    return (call);                        \
  }                                       \
  static int fn(fx_t *fx) {               \
    int err;                              \
                                          \
    rnode_init(fx);                       \
    err = in_forked_child(fx, fn##_call); \
    rnode_close(fx);                      \
    return err;                           \
  }

/* uva_node_init() on fx's loop, in a child of a parent whose node runs there: the loop is the parent's. */
static int node_init_inherited(fx_t *fx, int on_loop) {
  uva_node_options_t o = {.name = "child", .plaintext = 1, .on_loop = on_loop};
  uva_node_t node;

  return uva_node_init(&node, fx->loop, &o);
}

IN_CHILD(init_forked, node_init_inherited(fx, 0))
IN_CHILD(init_forked_on_loop, node_init_inherited(fx, 1))

/* uva_node_init() with 8 descriptors left: the transport's start would need them (a thread's loop, ZeroMQ's
 * own), so neither mode starts it. */
static int node_init_fds_short(int on_loop) {
  uva_node_options_t o = {.name = "child", .plaintext = 1, .on_loop = on_loop};
  uva_node_t node;
  uv_loop_t loop;

  if (uv_loop_init(&loop) != 0 || leave_fds(8) != 0)
    return UV_EAI_FAIL; /* the row's setup failed: a code no row expects */
  return uva_node_init(&node, &loop, &o);
}

/* The same in a child process, whose descriptors it may use up. */
#define FDS_SHORT(fn, on_loop)             \
  static int fn##_call(fx_t *fx) {         \
    (void)fx;                              \
    return node_init_fds_short(on_loop);   \
  }                                        \
  static int fn(fx_t *fx) {                \
    return in_forked_child(fx, fn##_call); \
  }

FDS_SHORT(init_fds_short, 0)
FDS_SHORT(init_fds_short_on_loop, 1)

IN_CHILD(listen_forked, uva_node_listen(&rn.node, "tcp://127.0.0.1:*", NULL, 0))
IN_CHILD(connect_forked, uva_node_connect(&rn.node, "tcp://127.0.0.1:1", NULL))
IN_CHILD(close_forked, uva_node_close(&rn.node, NULL))

static int keypair_null_public(fx_t *fx) {
  char sec[UVA_REMOTE_KEY_LEN + 1];

  (void)fx;
  return uva_remote_keypair(NULL, sec);
}

static int keypair_null_secret(fx_t *fx) {
  char pub[UVA_REMOTE_KEY_LEN + 1];

  (void)fx;
  return uva_remote_keypair(pub, NULL);
}

static const row_t node_rows[] = {
    {"uva_node_init", "node NULL", S_NONE, node_init_null, UV_EINVAL},
    {"uva_node_init", "loop NULL", S_NONE, node_init_null_loop, UV_EINVAL},
    {"uva_node_init", "options NULL", S_NONE, node_init_null_options, UV_EINVAL},
    {"uva_node_init", "name NULL", S_NONE, node_init_no_name, UV_EINVAL},
    {"uva_node_init", "name empty", S_NONE, node_init_empty_name, UV_EINVAL},
    {"uva_node_init", "name of UVA_NODE_NAME_MAX + 1 bytes", S_NONE, node_init_long_name, UV_EINVAL},
    {"uva_node_init", "neither keys nor plaintext", S_NONE, node_init_no_mode, UV_EINVAL},
    {"uva_node_init", "keys and plaintext", S_NONE, node_init_both, UV_EINVAL},
    {"uva_node_init", "a secret key that is not a Z85 key", S_NONE, node_init_bad_key, UV_EINVAL},
    {"uva_node_init", "a secret key without its public key", S_NONE, node_init_no_public, UV_EINVAL},
    {"uva_node_init", "an allowed key that is not a Z85 key", S_NONE, node_init_bad_allow, UV_EINVAL},
    {"uva_node_init", "timeout_ms under two heartbeats", S_NONE, node_init_timeout, UV_EINVAL},
    {"uva_node_init", "timeout_ms of exactly two heartbeats", S_NONE, node_init_timeout_min, 0},
    {"uva_node_init", "max_message of UVA_NODE_MAX_MESSAGE_MIN - 1", S_NONE, node_init_small_max, UV_EINVAL},
    {"uva_node_init", "max_message of UVA_NODE_MAX_MESSAGE_MIN", S_NONE, node_init_max_min, 0},
    {"uva_node_init", "a main without main_cb", S_NONE, node_init_null_main, UV_EINVAL},
    {"uva_node_init", "nmains 1, mains NULL", S_NONE, node_init_mains_null, UV_EINVAL},
    {"uva_node_init", "CURVE keys, no allow list (every client refused)", S_NONE, node_init_keys, 0},
    {"uva_node_init", "a node runs in this process", S_NONE, node_init_busy, UV_EBUSY},
    {"uva_node_init", "on_loop", S_NONE, node_init_on_loop, 0},
    {"uva_node_init", "on_loop, loop run by another thread", A_LOOP_TAKEN, node_init_on_loop, UV_EPERM},
    {"uva_node_init", "in a child process, on the loop the parent's node runs on (fork())", S_NONE,
     init_forked, UVA_EFORKED},
    {"uva_node_init", "on_loop, in a child process, on the loop the parent's node runs on (fork())", S_NONE,
     init_forked_on_loop, UVA_EFORKED},
    {"uva_node_init", "8 descriptors left (in a child process)", S_NONE, init_fds_short, UV_EMFILE},
    {"uva_node_init", "on_loop, 8 descriptors left (in a child process)", S_NONE, init_fds_short_on_loop,
     UV_EMFILE},

    {"uva_node_listen", "node NULL", S_NONE, listen_null, UV_EINVAL},
    {"uva_node_listen", "zeroed node, never initialized", S_NONE, listen_zeroed, UV_EINVAL},
    {"uva_node_listen", "endpoint NULL", S_NONE, listen_null_endpoint, UV_EINVAL},
    {"uva_node_listen", "bound NULL, size > 0", S_NONE, listen_bound_null, UV_EINVAL},
    {"uva_node_listen", "a transport ZeroMQ does not know (bogus://)", S_NONE, listen_bogus, UV_EINVAL},
    {"uva_node_listen", "tcp:// without a port", S_NONE, listen_no_port, UV_EINVAL},
    {"uva_node_listen", "tcp:// port over 65535 (libzmq would take it modulo 65536)", S_NONE,
     listen_port_over, UV_EINVAL},
    {"uva_node_listen", "tcp:// port with junk after it (libzmq would ignore it)", S_NONE, listen_port_junk,
     UV_EINVAL},
    {"uva_node_listen", "tcp:// port -1", S_NONE, listen_port_negative, UV_EINVAL},
    {"uva_node_listen", "tcp:// without a host or interface", S_NONE, listen_no_host, UV_EINVAL},
    {"uva_node_listen", "ipc:// without a path", S_NONE, listen_ipc_empty, UV_EINVAL},
    {"uva_node_listen", "tcp:// IPv6 address", S_NONE, listen_ipv6, UV_EINVAL},
    {"uva_node_listen", "tcp:// host name, not an interface or address", S_NONE, listen_host_name, UV_ENODEV},
    {"uva_node_listen", "udp:// (libzmq's datagrams: not a transport of the protocol)", S_NONE, listen_udp,
     UV_EINVAL},
    {"uva_node_listen", "ws:// (libzmq knows it; the protocol is tcp:// and ipc://)", S_NONE, listen_ws,
     UV_EINVAL},
    {"uva_node_listen", "an ipc:// path the node listens on already", S_NONE, listen_ipc_in_use,
     UV_EADDRINUSE},
    {"uva_node_listen", "bound too small (the listen happened)", S_NONE, listen_small, UV_ENOBUFS},
    {"uva_node_listen", "node closing", S_NONE, listen_closing, UV_EPIPE},
    {"uva_node_listen", "tcp://127.0.0.1:*, bound NULL", S_NONE, listen_ok, 0},
    {"uva_node_listen", "in a child process that inherited the node (fork())", S_NONE, listen_forked,
     UVA_EFORKED},

    {"uva_node_connect", "node NULL", S_NONE, connect_null, UV_EINVAL},
    {"uva_node_connect", "endpoint NULL", S_NONE, connect_null_endpoint, UV_EINVAL},
    {"uva_node_connect", "a transport ZeroMQ does not know (bogus://)", S_NONE, connect_bogus, UV_EINVAL},
    {"uva_node_connect", "udp:// (libzmq's datagrams: not a transport of the protocol)", S_NONE, connect_udp,
     UV_EINVAL},
    {"uva_node_connect", "ws:// (libzmq knows it; the protocol is tcp:// and ipc://)", S_NONE, connect_ws,
     UV_EINVAL},
    {"uva_node_connect", "tcp:// port over 65535 (libzmq would take it modulo 65536)", S_NONE,
     connect_port_over, UV_EINVAL},
    {"uva_node_connect", "tcp:// port with junk after it (libzmq would ignore it)", S_NONE, connect_port_junk,
     UV_EINVAL},
    {"uva_node_connect", "tcp:// port 0", S_NONE, connect_port_zero, UV_EINVAL},
    {"uva_node_connect", "tcp:// port * (a listener's)", S_NONE, connect_port_any, UV_EINVAL},
    {"uva_node_connect", "tcp:// without a host", S_NONE, connect_no_host, UV_EINVAL},
    {"uva_node_connect", "tcp:// with a source address (libzmq's src;dst)", S_NONE, connect_source,
     UV_EINVAL},
    {"uva_node_connect", "tcp:// IPv6 address", S_NONE, connect_ipv6, UV_EINVAL},
    {"uva_node_connect", "ipc://* (a listener's)", S_NONE, connect_ipc_any, UV_EINVAL},
    {"uva_node_connect", "a server key, on a plaintext node", S_NONE, connect_key_plaintext, UV_EINVAL},
    {"uva_node_connect", "a server key that is not a Z85 key", S_NONE, connect_bad_key, UV_EINVAL},
    {"uva_node_connect", "no server key, on a node with keys", S_NONE, connect_missing_key, UV_EINVAL},
    {"uva_node_connect", "node closing", S_NONE, connect_closing, UV_EPIPE},
    {"uva_node_connect", "an endpoint nobody listens on (ZeroMQ retries)", S_NONE, connect_nobody, 0},
    {"uva_node_connect", "an endpoint this node connects to already", S_NONE, connect_twice, UV_EALREADY},
    {"uva_node_connect", "in a child process that inherited the node (fork())", S_NONE, connect_forked,
     UVA_EFORKED},

    {"uva_node_close", "node NULL", S_NONE, close_null, UV_EINVAL},
    {"uva_node_close", "zeroed node, never initialized", S_NONE, close_zeroed, UV_EINVAL},
    {"uva_node_close", "closing", S_NONE, close_closing, UV_EALREADY},
    {"uva_node_close", "closed (its close callback ran)", S_NONE, closed_twice, UV_EINVAL},
    {"uva_node_close", "from another thread", S_NONE, close_other_thread, UV_EPERM},
    {"uva_node_close", "in a child process that inherited the node (fork(): it needs no closing)", S_NONE,
     close_forked, UVA_EFORKED},

    {"uva_remote_keypair", "public_key NULL", S_NONE, keypair_null_public, UV_EINVAL},
    {"uva_remote_keypair", "secret_key NULL", S_NONE, keypair_null_secret, UV_EINVAL},
};

/* ---- remote ports and actors --------------------------------------------------------------------- */

static uva_remote_req_t req;
static uva_port_t rport;

static void on_ropen(uva_remote_req_t *r, int status) {
  (void)r;
  (void)status;
  rn.opened++;
}

/* An open to a peer that never comes: it times out at once (timeout 0 is 0 ms), so the row's node closes
 * with nothing pending. */
#define OPEN(fn, closing, ...) ON_NODE(fn, closing, uva_remote_open(__VA_ARGS__))

OPEN(open_null_req, 0, NULL, fx->loop, &rn.node, "peer", "name", 0, on_ropen, &rport)
OPEN(open_null_loop, 0, &req, NULL, &rn.node, "peer", "name", 0, on_ropen, &rport)
OPEN(open_null_peer, 0, &req, fx->loop, &rn.node, NULL, "name", 0, on_ropen, &rport)
OPEN(open_empty_peer, 0, &req, fx->loop, &rn.node, "", "name", 0, on_ropen, &rport)
OPEN(open_long_peer, 0, &req, fx->loop, &rn.node, name_of(UVA_NODE_NAME_MAX + 1), "name", 0, on_ropen, &rport)
OPEN(open_null_name, 0, &req, fx->loop, &rn.node, "peer", NULL, 0, on_ropen, &rport)
OPEN(open_empty_name, 0, &req, fx->loop, &rn.node, "peer", "", 0, on_ropen, &rport)
OPEN(open_null_cb, 0, &req, fx->loop, &rn.node, "peer", "name", 0, NULL, &rport)
OPEN(open_null_port, 0, &req, fx->loop, &rn.node, "peer", "name", 0, on_ropen, NULL)
OPEN(open_closing, 1, &req, fx->loop, &rn.node, "peer", "name", 0, on_ropen, &rport)

static int open_null_node(fx_t *fx) {
  return uva_remote_open(&req, fx->loop, NULL, "peer", "name", 0, on_ropen, &rport);
}

/* A valid open: its callback says UV_ETIMEDOUT (no session with the peer) or UV_ECANCELED (the node
 * closed first), and the port is no port. */
static int open_no_peer(fx_t *fx) {
  int err;

  rnode_init(fx);
  err = uva_remote_open(&req, fx->loop, &rn.node, "peer", "name", 0, on_ropen, &rport);
  if (err == 0)
    ck_assert(run_until(fx->loop, &rn.opened, 1));
  rnode_close(fx);
  return err;
}

static uva_remote_actor_t ractor;

static void on_rexit(uva_remote_actor_t *a, int code) {
  (void)a;
  (void)code;
  rn.opened++;
}

#define SPAWN(fn, closing, ...) ON_NODE(fn, closing, uva_remote_spawn(__VA_ARGS__))

SPAWN(spawn_null_actor, 0, NULL, fx->loop, &rn.node, "peer", "main", NULL)
SPAWN(spawn_null_loop, 0, &ractor, NULL, &rn.node, "peer", "main", NULL)
SPAWN(spawn_null_peer, 0, &ractor, fx->loop, &rn.node, NULL, "main", NULL)
SPAWN(spawn_long_peer, 0, &ractor, fx->loop, &rn.node, name_of(UVA_NODE_NAME_MAX + 1), "main", NULL)
SPAWN(spawn_null_main, 0, &ractor, fx->loop, &rn.node, "peer", NULL, NULL)
SPAWN(spawn_empty_main, 0, &ractor, fx->loop, &rn.node, "peer", "", NULL)
SPAWN(spawn_closing, 1, &ractor, fx->loop, &rn.node, "peer", "main", NULL)

static int spawn_null_node(fx_t *fx) {
  return uva_remote_spawn(&ractor, fx->loop, NULL, "peer", "main", NULL);
}

/* A failed spawn leaves the init message the caller's: it still posts elsewhere (the runner checks). */
static int spawn_closing_init(fx_t *fx) {
  uva_remote_actor_options_t o = {0};
  int err;

  o.init = fx->msg;
  rnode_init(fx);
  ck_assert_int_eq(uva_node_close(&rn.node, on_rnode_closed), 0);
  err = uva_remote_spawn(&ractor, fx->loop, &rn.node, "peer", "main", &o);
  rnode_close(fx);
  return err;
}

/* A valid spawn to a peer that never comes: exit UV_ETIMEDOUT, once. */
static int spawn_no_peer(fx_t *fx) {
  uva_remote_actor_options_t o = {.timeout_ms = 1, .exit_cb = on_rexit};
  int err;

  rnode_init(fx);
  err = uva_remote_spawn(&ractor, fx->loop, &rn.node, "peer", "main", &o);
  if (err == 0)
    ck_assert(run_until(fx->loop, &rn.opened, 1));
  rnode_close(fx);
  return err;
}

IN_CHILD(open_forked, uva_remote_open(&req, fx->loop, &rn.node, "peer", "name", 0, on_ropen, &rport))
IN_CHILD(spawn_forked, uva_remote_spawn(&ractor, fx->loop, &rn.node, "peer", "main", NULL))

static int terminate_forked_call(fx_t *fx) {
  (void)fx;
  return uva_remote_terminate(&ractor);
}

/* A remote actor spawned by the parent, waiting for a peer that never comes, terminated in the child. */
static int terminate_forked(fx_t *fx) {
  uva_remote_actor_options_t o = {.timeout_ms = 600000, .exit_cb = on_rexit};
  int err;

  rnode_init(fx);
  ck_assert_int_eq(uva_remote_spawn(&ractor, fx->loop, &rn.node, "peer", "main", &o), 0);
  err = in_forked_child(fx, terminate_forked_call);
  rnode_close(fx); /* the actor ends with the node (UV_ECANCELED) */
  ck_assert(run_until(fx->loop, &rn.opened, 1));
  return err;
}

static int actor_port_null(fx_t *fx) {
  (void)fx;
  return uva_remote_actor_port(NULL) == NULL ? R_NULL : R_VALUE;
}

static int actor_id_null(fx_t *fx) {
  (void)fx;
  return uva_remote_actor_id(NULL) == 0 ? 0 : R_VALUE;
}

static int terminate_null(fx_t *fx) {
  (void)fx;
  return uva_remote_terminate(NULL);
}

static int terminate_zeroed(fx_t *fx) {
  uva_remote_actor_t zeroed;

  (void)fx;
  memset(&zeroed, 0, sizeof(zeroed));
  return uva_remote_terminate(&zeroed);
}

static void terminate_thread(void *arg) {
  *(int *)arg = uva_remote_terminate(&ractor);
}

/* A remote actor waiting for a peer that never comes, terminated from another thread. */
static int terminate_other_thread(fx_t *fx) {
  uva_remote_actor_options_t o = {.timeout_ms = 600000, .exit_cb = on_rexit};
  uv_thread_t thread;
  int err;

  rnode_init(fx);
  ck_assert_int_eq(uva_remote_spawn(&ractor, fx->loop, &rn.node, "peer", "main", &o), 0);
  ck_assert_int_eq(uv_thread_create(&thread, terminate_thread, &err), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  rnode_close(fx); /* the actor ends with the node (UV_ECANCELED) */
  ck_assert(run_until(fx->loop, &rn.opened, 1));
  return err;
}

/* After its exit callback (the spawn timed out). */
static int terminate_ended(fx_t *fx) {
  ck_assert_int_eq(spawn_no_peer(fx), 0);
  return uva_remote_terminate(&ractor);
}

static const row_t rport_rows[] = {
    {"uva_remote_open", "req NULL", S_NONE, open_null_req, UV_EINVAL},
    {"uva_remote_open", "loop NULL", S_NONE, open_null_loop, UV_EINVAL},
    {"uva_remote_open", "node NULL", S_NONE, open_null_node, UV_EINVAL},
    {"uva_remote_open", "peer NULL", S_NONE, open_null_peer, UV_EINVAL},
    {"uva_remote_open", "peer empty", S_NONE, open_empty_peer, UV_EINVAL},
    {"uva_remote_open", "peer of UVA_NODE_NAME_MAX + 1 bytes", S_NONE, open_long_peer, UV_EINVAL},
    {"uva_remote_open", "name NULL", S_NONE, open_null_name, UV_EINVAL},
    {"uva_remote_open", "name empty", S_NONE, open_empty_name, UV_EINVAL},
    {"uva_remote_open", "open_cb NULL", S_NONE, open_null_cb, UV_EINVAL},
    {"uva_remote_open", "port NULL", S_NONE, open_null_port, UV_EINVAL},
    {"uva_remote_open", "node closing", S_NONE, open_closing, UV_EPIPE},
    {"uva_remote_open", "a peer with no session (open_cb: UV_ETIMEDOUT)", S_NONE, open_no_peer, 0},
    {"uva_remote_open", "in a child process that inherited the node (fork())", S_NONE, open_forked,
     UVA_EFORKED},

    {"uva_remote_spawn", "actor NULL", S_NONE, spawn_null_actor, UV_EINVAL},
    {"uva_remote_spawn", "loop NULL", S_NONE, spawn_null_loop, UV_EINVAL},
    {"uva_remote_spawn", "node NULL", S_NONE, spawn_null_node, UV_EINVAL},
    {"uva_remote_spawn", "peer NULL", S_NONE, spawn_null_peer, UV_EINVAL},
    {"uva_remote_spawn", "peer of UVA_NODE_NAME_MAX + 1 bytes", S_NONE, spawn_long_peer, UV_EINVAL},
    {"uva_remote_spawn", "main_name NULL", S_NONE, spawn_null_main, UV_EINVAL},
    {"uva_remote_spawn", "main_name empty", S_NONE, spawn_empty_main, UV_EINVAL},
    {"uva_remote_spawn", "node closing", S_NONE, spawn_closing, UV_EPIPE},
    {"uva_remote_spawn", "node closing, with an init message (it stays the caller's)", S_NONE,
     spawn_closing_init, UV_EPIPE},
    {"uva_remote_spawn", "a peer with no session (exit: UV_ETIMEDOUT)", S_NONE, spawn_no_peer, 0},
    {"uva_remote_spawn", "in a child process that inherited the node (fork())", S_NONE, spawn_forked,
     UVA_EFORKED},

    {"uva_remote_actor_port", "actor NULL", S_NONE, actor_port_null, R_NULL},
    {"uva_remote_actor_id", "actor NULL (0)", S_NONE, actor_id_null, 0},

    {"uva_remote_terminate", "actor NULL", S_NONE, terminate_null, UV_EINVAL},
    {"uva_remote_terminate", "zeroed actor, never spawned", S_NONE, terminate_zeroed, UV_EINVAL},
    {"uva_remote_terminate", "ended (its exit callback ran)", S_NONE, terminate_ended, UV_EALREADY},
    {"uva_remote_terminate", "from another thread", S_NONE, terminate_other_thread, UV_EPERM},
    {"uva_remote_terminate", "in a child process that inherited the actor (fork())", S_NONE, terminate_forked,
     UVA_EFORKED},
};

const table_t node_table = TABLE("Nodes", node_rows);
const table_t rport_table = TABLE("Remote ports and actors", rport_rows);
