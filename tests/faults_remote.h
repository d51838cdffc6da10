/* test_faults's scenario for libuvactor-remote (include/uvactor/remote.h), built when configure found
 * libzmq. One node is enough: it listens on loopback and connects to itself, so that one process holds
 * both ends of every channel and every fault point of the walk is on one countdown (the transport's
 * thread and ZeroMQ's I/O thread included). Included by test_faults.c after its actor scenarios, whose
 * helpers (messages, counted buffers, NOTE) this reuses; the walk itself is test_faults.c's. */
#include <unistd.h>

#include "uvactor/remote.h"

/* The codes a node's calls give for a fault: an allocation (UV_ENOMEM), a socket or descriptor (UV_EMFILE),
 * or the transport that ended on one at its start (UV_EPIPE: the node is closing). */
#define E_NODE UV_ENOMEM, UV_EMFILE, UV_EPIPE
/* What an open's or a spawn's answer may be under a fault: the fault's own code, a channel the transport
 * closed (UV_ECANCELED), or a session that ended under it. */
#define E_ANSWER UV_ENOMEM, UV_EMFILE, UV_EAGAIN, UV_ECANCELED, UV_ECONNRESET

/* The walk's hang guard: the node talks to itself on loopback, nothing in a run legitimately waits long (a
 * whole run takes milliseconds), so a hang fails in 3 s rather than 10 (CI walks this under ASan). */
#define REMOTE_GUARD_MS 3000

#define WALK_NODE "walk"
#define WALK_NAME "uva-faults-svc"

typedef struct {
  run_t *run;
  uv_loop_t *loop;
  uva_node_t node;
  int node_closed;
  int node_failed;      /* UVA_NODE_FAILED: its transport failed at its start, on its thread */
  int closed_in_failed; /* uva_node_close() was called in that event's callback */
  /* the name's holder: the far end of the remote port */
  uva_name_t name;
  uva_port_t held;
  int held_started;
  int held_received; /* the message with its moved buffer */
  int held_closed;
  int buffer_made; /* counted buffer 0 was made: the library frees it once */
  /* the remote port */
  uva_remote_req_t req;
  uva_port_t port;
  int opened;
  int open_status;
  int port_closed;
  uva_call_t call;
  int call_done;
  int call_status;
  int64_t call_reply;
  /* the remote actor */
  uva_remote_actor_t ra;
  int ra_online;
  int ra_hello;
  int ra_exited;
  int ra_text; /* the error event came: 1 with the actor's text, 2 another */
  int ra_code;
} rwalk_t;

/* ---- the name's holder, on the test's loop ------------------------------------------------------- */

static void on_held_message(uva_port_t *port, uva_msg_t *msg) {
  rwalk_t *w = port->data;
  msgpack_object obj;
  void *data;
  size_t len;

  if (uva_msg_is_call(msg)) {
    /* 5 -> an error answer, code 105 with a text (the text crosses too); one that cannot be made leaves the
     * call to fail (UV_ECONNRESET there). */
    NOTE(w->run, uva_msg_reply_error(msg, (int)msg_int(msg) + 100, "walked"), E_MEM, UV_EPIPE);
  } else if (uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 2) {
    /* [1, buffer 0]: the buffer crossed whole; taken out, it is ours to free. */
    EXPECT(w->run, uva_msg_take_buffer(msg, &obj.via.array.ptr[1], &data, &len, NULL) == 0);
    EXPECT(w->run, len == 64 && *(int *)data == 0);
    free(data); /* the receiver's copy: the sender's buffer was released by its transport */
    w->held_received++;
  } else {
    note_bad(w->run, "the holder got a message it was not sent");
  }
  uva_msg_free(msg);
}

static void on_held_closed(uva_port_t *port) {
  rwalk_t *w = port->data;
  w->held_closed++;
}

static void on_name_accept(uva_name_t *name) {
  rwalk_t *w = name->data;

  if (w->held_started)
    return; /* one channel per run */
  if (uva_name_accept(name, &w->held) != 0)
    return;
  w->held.data = w;
  if (NOTE(w->run, uva_port_start(&w->held, w->loop, on_held_message, on_held_closed), E_START) == 0)
    w->held_started = 1;
  else
    EXPECT(w->run, uva_port_close(&w->held) == 0); /* the opener's port sees the close */
}

/* ---- the remote port ----------------------------------------------------------------------------- */

static void on_rwalk_opened(uva_remote_req_t *req, int status) {
  rwalk_t *w = req->data;

  w->opened = 1;
  w->open_status = status;
  note_(w->run, "uva_remote_open()'s callback", status, (const int[]){E_ANSWER, UV_ECONNREFUSED, 0});
}

static void on_port_reply(uva_port_t *port, uva_msg_t *msg) {
  rwalk_t *w = port->data;

  note_bad(w->run, "the remote port got a message nobody sent");
  uva_msg_free(msg);
}

static void on_rwalk_port_closed(uva_port_t *port) {
  rwalk_t *w = port->data;
  w->port_closed++;
}

static void on_rwalk_call(uva_call_t *call, int status, uva_msg_t *reply) {
  rwalk_t *w = call->data;

  w->call_done++;
  w->call_status = status;
  w->call_reply = status > 0 && reply != NULL;
  uva_msg_free(reply);
}

/* [1, a moved buffer]; 0 or the error (noted, the message and the buffer freed). */
static int buffer_msg(run_t *run, uva_msg_t **msgp) {
  void *data = counted_buffer(0);
  int err;

  err = NOTE(run, uva_msg_new(msgp), E_MEM);
  if (err != 0) {
    counted_free(data);
    return err;
  }
  msgpack_pack_array(uva_msg_packer(*msgp), 2);
  msgpack_pack_int(uva_msg_packer(*msgp), 1);
  err = NOTE(run, uva_msg_pack_buffer(*msgp, data, 64, counted_free), E_MEM);
  if (err != 0) {
    counted_free(data);
    uva_msg_free(*msgp);
  }
  return err;
}

/* Opens the name through the node (to itself), posts a message with a moved buffer, makes a call, closes. */
static void rwalk_port(rwalk_t *w) {
  run_t *run = w->run;
  uva_msg_t *msg;
  int err;

  w->req.data = w;
  if (NOTE(run,
           uva_remote_open(&w->req, w->loop, &w->node, WALK_NODE, WALK_NAME, HANG_GUARD_MS, on_rwalk_opened,
                           &w->port),
           E_NODE) != 0)
    return;
  if (!run_until(w->loop, &w->opened, 1)) {
    note_bad(run, "the open never answered");
    return;
  }
  if (w->open_status != 0)
    return;
  w->port.data = w;
  if (NOTE(run, uva_port_start(&w->port, w->loop, on_port_reply, on_rwalk_port_closed), E_START) != 0) {
    EXPECT(run, uva_port_close(&w->port) == 0);
    return;
  }
  /* The message, then the call: the holder answers the call after it took the message, on one channel. A
   * fault on the way closes the channel: the call completes with an error, the port's close callback runs. */
  w->buffer_made = 1;
  if (buffer_msg(run, &msg) == 0) {
    err = NOTE(run, uva_port_post(&w->port, msg), E_MEM, UV_EPIPE);
    if (err != 0)
      uva_msg_free(msg);
  }
  if (int_msg(run, 5, &msg) == 0) {
    w->call.data = w;
    err = note_(run, "uva_port_call()", uva_port_call(&w->port, &w->call, msg, HANG_GUARD_MS, on_rwalk_call),
                (const int[]){E_MEM, UV_EPIPE, 0});
    if (err != 0)
      uva_msg_free(msg);
    else if (!run_until(w->loop, &w->call_done, 1))
      note_bad(run, "the remote call never completed");
    else if (w->call_status != 105)
      note_(run, "the remote call's status", w->call_status,
            (const int[]){UV_ENOMEM, UV_EMFILE, UV_EPIPE, UV_ECONNRESET, 0});
    else
      EXPECT(run, w->call_reply == 1);
  }
  if (w->call_status == 105 && w->call_done == 1 && w->held_received != 1)
    note_incomplete(run, "the message with a moved buffer");
  /* A channel that failed under a fault closed the port already (its close callback ran, or comes). */
  err = uva_port_close(&w->port);
  EXPECT(run, err == 0 || (run->errors > 0 && (err == UV_EBADF || err == UV_EALREADY)));
  if (!run_until(w->loop, &w->port_closed, 1))
    note_bad(run, "the remote port's close callback never ran");
  /* The holder's end hears the close through the transport. */
  if (w->held_started && !run_until(w->loop, &w->held_closed, 1))
    note_bad(run, "the holder's port never heard the close");
}

/* ---- the remote actor ---------------------------------------------------------------------------- */

/* Spawned by the transport for the node itself: takes its init message (42), says 43, ends with 3 and an
 * error text (which crosses back to the spawner's error callback). */
static int walk_remote_main(uva_self_t *self) {
  uva_msg_t *init = uva_self_init(self);
  uva_msg_t *msg;
  int64_t value = init != NULL ? msg_int(init) : -1;

  uva_msg_free(init);
  if (value != 42)
    return 10; /* seen as a wrong exit code */
  if (uva_msg_new(&msg) != 0)
    return UVA_EXIT_FAILED;
  msgpack_pack_int64(uva_msg_packer(msg), 43);
  if (uva_port_post(uva_self_port(self), msg) != 0) {
    uva_msg_free(msg);
    return UVA_EXIT_FAILED;
  }
  uva_self_fail(self, 3, "walked"); /* UV_ENOMEM: the text is lost, the code still goes */
  return 3;
}

static void on_ra_online(uva_remote_actor_t *ra) {
  rwalk_t *w = ra->data;
  w->ra_online++;
}

static void on_ra_message(uva_remote_actor_t *ra, uva_msg_t *msg) {
  rwalk_t *w = ra->data;

  EXPECT(w->run, msg_int(msg) == 43);
  w->ra_hello++;
  uva_msg_free(msg);
}

static void on_ra_error(uva_remote_actor_t *ra, const char *text) {
  rwalk_t *w = ra->data;

  w->ra_text = strcmp(text, "walked") == 0 ? 1 : 2; /* another: the failure's own */
}

static void on_ra_exit(uva_remote_actor_t *ra, int code) {
  rwalk_t *w = ra->data;

  w->ra_exited++;
  w->ra_code = code;
}

static void rwalk_actor(rwalk_t *w) {
  uva_remote_actor_options_t options = {0};
  run_t *run = w->run;

  if (int_msg(run, 42, &options.init) != 0)
    return;
  options.online_cb = on_ra_online;
  options.message_cb = on_ra_message;
  options.error_cb = on_ra_error;
  options.exit_cb = on_ra_exit;
  options.timeout_ms = HANG_GUARD_MS;
  w->ra.data = w;
  if (NOTE(run, uva_remote_spawn(&w->ra, w->loop, &w->node, WALK_NODE, "echo", &options), E_NODE) != 0) {
    uva_msg_free(options.init); /* still ours */
    return;
  }
  if (!run_until(w->loop, &w->ra_exited, 1)) {
    note_bad(run, "the remote actor never exited");
    return;
  }
  EXPECT(run, w->ra_exited == 1 && w->ra_online <= 1);
  if (w->ra_code == 3) {
    if (w->ra_online != 1 || w->ra_hello != 1)
      note_incomplete(run, "the remote actor's online event and message");
    /* Its error event: the actor's text, or the one said for it when the text could not be sent (as for a
     * local actor); a text that could not be copied here is dropped (the exit still comes). */
    if (w->ra_text == 0)
      note_degraded(run);
    return;
  }
  /* Its failure, as the exit callback tells it: the spawn's error, the actor's own failure, or its
   * channel lost. */
  note_(run, "the remote actor's exit code", w->ra_code,
        (const int[]){E_ANSWER, UVA_EXIT_FAILED, UVA_EXIT_DISCONNECTED, 0});
}

/* ---- the node ------------------------------------------------------------------------------------ */

static void on_rwalk_node_closed(uva_node_t *node) {
  rwalk_t *w = node->data;
  w->node_closed++;
}

/* Runs of the walk whose node ended with UVA_NODE_FAILED: test_walk_remote sees some did. */
static int rwalk_failed_runs;

static void on_rwalk_node_event(uva_node_t *node, const uva_node_event_t *ev) {
  rwalk_t *w = node->data;

  if (ev->type == UVA_NODE_FAILED) {
    EXPECT(w->run, ev->status == UV_ECANCELED && ev->text != NULL && ev->text[0] != '\0');
    w->node_failed++;
    /* Every other time, a close in the callback: its close callback follows. */
    if (rwalk_failed_runs++ % 2 == 1) {
      EXPECT(w->run, uva_node_close(node, on_rwalk_node_closed) == 0);
      w->closed_in_failed = 1;
    }
  }
}

/* The node, with its transport on a thread of its own or on the walk's loop (on_loop). */
static void remote_walk(run_t *run, int on_loop) {
  static const uva_remote_main_t mains[] = {{"echo", walk_remote_main}};
  static const char *const allow[] = {"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", NULL};
  uva_node_options_t options = {0};
  char bound[256];
  char ipc[64];
  rwalk_t w;
  int err;

  memset(&w, 0, sizeof(w));
  w.run = run;
  w.loop = loop_new();
  atomic_store(&buffer_frees[0], 0);
  options.name = WALK_NODE;
  options.plaintext = 1;
  options.heartbeat_ms = 20; /* a HELLO lost to a fault is said again after 4 heartbeats */
  options.timeout_ms = 60000;
  options.linger_ms = 1;
  options.mains = mains;
  options.allow = allow; /* copied (not used in plaintext) */
  options.nmains = 1;
  options.on_loop = on_loop;
  options.event_cb = on_rwalk_node_event;
  w.node.data = &w;
  w.name.data = &w;
  if (NOTE(run, uva_name_register(&w.name, w.loop, WALK_NAME, on_name_accept), E_START) != 0) {
    loop_finish(w.loop);
    return;
  }
  /* UV_EMFILE: the descriptors' headroom, and on the loop the transport's start, which is the call's own. */
  err = NOTE(run, uva_node_init(&w.node, w.loop, &options), E_START, UV_EAGAIN, UV_EMFILE);
  if (err != 0) {
    EXPECT(run, uva_name_unregister(&w.name) == 0);
    loop_finish(w.loop);
    return;
  }
  /* An ipc:// endpoint first: its listen looks for a listener there (a probe socket). libzmq leaves the
   * socket file: removed below. */
  snprintf(ipc, sizeof(ipc), "ipc:///tmp/uva-faults-%d", (int)getpid());
  err = NOTE(run, uva_node_listen(&w.node, ipc, NULL, 0), E_NODE);
  if (err == 0)
    err = NOTE(run, uva_node_listen(&w.node, "tcp://127.0.0.1:*", bound, sizeof(bound)), E_NODE);
  if (err == 0)
    err = NOTE(run, uva_node_connect(&w.node, bound, NULL), E_NODE);
  if (err == 0)
    rwalk_port(&w);
  if (err == 0)
    rwalk_actor(&w);
  /* UV_EPIPE before any close, and again once the fault is spent: the transport failed at its start on its
   * thread (not an answer the fault lost). The node says so, and that ends it. */
  if (err == UV_EPIPE && !on_loop && uva_node_listen(&w.node, "tcp://127.0.0.1:*", NULL, 0) == UV_EPIPE &&
      !run_until(w.loop, &w.node_failed, 1))
    ck_abort_msg("no UVA_NODE_FAILED within %d ms (fault %s)", HANG_GUARD_MS, uva_fault_site());
  /* A transport that failed at its start on its thread ended the node by itself, saying so: there is
   * nothing to close then. */
  err = uva_node_close(&w.node, on_rwalk_node_closed);
  if (err == 0 && !run_until(w.loop, &w.node_closed, 1))
    ck_abort_msg("the node did not close within %d ms (fault %s)", HANG_GUARD_MS, uva_fault_site());
  if (err != 0)
    EXPECT(run, err == UV_EINVAL && run->errors > 0 && !on_loop && w.node_failed == 1);
  EXPECT(run, w.node_failed + w.node_closed == 1 + w.closed_in_failed);
  unlink(ipc + 6);
  EXPECT(run, uva_name_unregister(&w.name) == 0);
  loop_finish(w.loop);
  EXPECT(run, atomic_load(&buffer_frees[0]) == w.buffer_made);
}

static void scenario_remote(run_t *run) {
  remote_walk(run, 0);
}

static void scenario_remote_on_loop(run_t *run) {
  remote_walk(run, 1);
}
