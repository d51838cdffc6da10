/* Remote actors, the spawner's side: a handle with a parent's events, fed by the transport.
 *
 * Two channels to the transport: the data port (the actor's messages both ways, through the remote channel)
 * and the control port (online and exit from the transport, terminate to it). The events keep a local
 * actor's order: online before the data port is started, so no message comes before it; exit after the
 * data port closed, so every message came before it; error just before exit.
 */
#include <stdlib.h>
#include <string.h>

#include "channel/endpoint.h"
#include "remote/transport.h"

#define RA_RUNNING 0x72656d41u
#define RA_ENDED 0x72656d42u

enum { EXIT_KNOWN = 1, PORT_STARTED = 2, PORT_CLOSED = 4, CONTROL_CLOSED = 8, TERMINATE_ASKED = 16 };

static void maybe_exit(uva_remote_actor_t *ra) {
  char *error = ra->error_;
  uva_remote_exit_cb exit_cb = ra->exit_cb_;
  int code = ra->exit_code_;

  if ((ra->ended_ & (PORT_CLOSED | CONTROL_CLOSED)) != (PORT_CLOSED | CONTROL_CLOSED) ||
      ra->state_ != RA_RUNNING)
    return;
  if (!(ra->ended_ & EXIT_KNOWN))
    code = UVA_EXIT_DISCONNECTED; /* the transport ended without word of it */
  ra->state_ = RA_ENDED;
  ra->error_ = NULL;
  uva_actor_proxy_end(ra->proxy_, code, error); /* its monitors, in no fixed order with the exit callback */
  ra->proxy_ = NULL;
  if (error != NULL && ra->error_cb_ != NULL)
    ra->error_cb_(ra, error);
  free(error);
  if (exit_cb != NULL)
    exit_cb(ra, code);
}

static void on_data(uva_port_t *port, uva_msg_t *msg) {
  uva_remote_actor_t *ra = uva__container_of(port, uva_remote_actor_t, port_);

  if (ra->message_cb_ != NULL)
    ra->message_cb_(ra, msg);
  else
    uva_msg_free(msg);
}

static void on_data_closed(uva_port_t *port) {
  uva_remote_actor_t *ra = uva__container_of(port, uva_remote_actor_t, port_);

  ra->ended_ |= PORT_CLOSED;
  maybe_exit(ra);
}

/* ["online", 0, channel, nil] or ["exit", code, channel, text or nil]. */
static void on_control(uva_port_t *port, uva_msg_t *msg) {
  uva_remote_actor_t *ra = uva__container_of(port, uva_remote_actor_t, control_);
  const msgpack_object *a;
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 4 ||
      obj.via.array.ptr[0].type != MSGPACK_OBJECT_STR) {
    uva_msg_free(msg);
    return;
  }
  a = obj.via.array.ptr;
  if (a[0].via.str.size == 6 && memcmp(a[0].via.str.ptr, "online", 6) == 0) {
    ra->channel = a[2].via.u64;
    if (uva_port_start(&ra->port_, ra->loop, on_data, on_data_closed) == 0)
      ra->ended_ |= PORT_STARTED;
    else
      ra->ended_ |= PORT_CLOSED; /* the program closed it first */
    if (ra->online_cb_ != NULL)
      ra->online_cb_(ra);
  } else if (!(ra->ended_ & EXIT_KNOWN)) {
    ra->ended_ |= EXIT_KNOWN;
    ra->exit_code_ = (int)a[1].via.i64;
    if (a[3].type == MSGPACK_OBJECT_STR)
      ra->error_ = uva__strndup(a[3].via.str.ptr, a[3].via.str.size);
  }
  uva_msg_free(msg);
}

static void on_control_closed(uva_port_t *port) {
  uva_remote_actor_t *ra = uva__container_of(port, uva_remote_actor_t, control_);

  ra->ended_ |= CONTROL_CLOSED;
  if (!(ra->ended_ & PORT_STARTED)) {
    /* Never online: the data port was never started; closed now, at once. */
    uva_port_close(&ra->port_);
    ra->ended_ |= PORT_CLOSED;
  }
  maybe_exit(ra);
}

/* The init message travels to the transport queued in a port of its own, packed in the command: so it has
 * an owner at every moment, and a command freed untaken (the transport ended) frees it with the port. The
 * port's other end is closed at once: the message stays queued. UV_ENOMEM, or what a post refuses (the
 * message is then untouched). */
static int init_port(uva_msg_t *msg, uva_port_t *port) {
  uva_port_t mine;
  int err;

  err = uva_channel_init(&mine, port);
  if (err != 0)
    return err;
  err = uva_port_post(&mine, msg);
  uva_port_close(&mine);
  if (err != 0)
    uva_port_close(port);
  return err;
}

/* The command's last element: the init port, or nil. */
static int pack_init(uva_msg_t *cmd, uva_port_t *port) {
  if (port != NULL)
    return uva_msg_pack_port(cmd, port);
  msgpack_pack_nil(uva_msg_packer(cmd));
  return 0;
}

/* Takes the init port back out of the command, which is whole. */
static void unpack_init(uva_msg_t *cmd, uva_port_t *port) {
  msgpack_object obj;

  if (uva_msg_object(cmd, &obj) == 0)
    (void)uva_msg_take_port(cmd, &obj.via.array.ptr[obj.via.array.size - 1], port);
}

/* A failed spawn gives the init message back to its caller: out of its port, whose only message it is (the
 * same uva_msg_t the caller passed, which it still holds). */
static void init_take_back(uva_port_t *port) {
  uva_msg_t *msg;

  (void)uva_port_receive(port, &msg);
  uva_port_close(port);
}

int uva_remote_spawn(uva_remote_actor_t *ra, uv_loop_t *loop, uva_node_t *node, const char *peer,
                     const char *main_name, const uva_remote_actor_options_t *options) {
  uva_remote_actor_options_t none = {0};
  uva_actor_proxy_t *proxy;
  uva_port_t data;
  uva_port_t control;
  uva_port_t init;
  msgpack_packer *pk;
  uva_msg_t *cmd;
  int64_t timeout_ms;
  int err;

  if (options == NULL)
    options = &none;
  if (ra == NULL || loop == NULL || node == NULL || peer == NULL || main_name == NULL || strlen(peer) == 0 ||
      strlen(peer) > UVA_NODE_NAME_MAX || strlen(main_name) == 0 || strlen(main_name) > UVA_NODE_NAME_MAX ||
      (options->name != NULL && strlen(options->name) > 63))
    return UV_EINVAL;
  if ((err = uva__node_usable(node)) != 0)
    return err;
  timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : 5000;
  if (options->init != NULL && (err = init_port(options->init, &init)) != 0)
    return err;
  err = uva_actor_proxy_new(&proxy);
  if (err != 0)
    goto fail_init;
  err = uva_msg_new(&cmd);
  if (err != 0)
    goto fail_proxy;
  err = uva_channel_init(&ra->port_, &data);
  if (err != 0)
    goto fail_cmd;
  /* Until its session says the peer's own, this node's max_message: posts over it fail at once. */
  uva_port_set_max_message(&data, node->impl_->max_message);
  err = uva_channel_init(&ra->control_, &control);
  if (err != 0) {
    uva_port_close(&data);
    uva_port_close(&ra->port_);
    goto fail_cmd;
  }
  pk = uva_msg_packer(cmd);
  msgpack_pack_array(pk, 8);
  msgpack_pack_str_with_body(pk, "spawn", 5);
  msgpack_pack_str_with_body(pk, peer, strlen(peer));
  msgpack_pack_str_with_body(pk, main_name, strlen(main_name));
  if (options->name != NULL)
    msgpack_pack_str_with_body(pk, options->name, strlen(options->name));
  else
    msgpack_pack_nil(pk);
  msgpack_pack_uint64(pk, (uint64_t)timeout_ms);
  if ((err = uva_msg_pack_port(cmd, &data)) == 0 && (err = uva_msg_pack_port(cmd, &control)) == 0)
    err = pack_init(cmd, options->init != NULL ? &init : NULL);
  /* The last step that can fail: the control port's callbacks must never run for a spawn that failed. */
  if (err == 0 && (err = uva_port_start(&ra->control_, loop, on_control, on_control_closed)) != 0 &&
      options->init != NULL)
    unpack_init(cmd, &init);
  if (err != 0) {
    uva_port_close(&data);
    uva_port_close(&control);
    uva_port_close(&ra->control_);
    uva_port_close(&ra->port_);
    goto fail_cmd;
  }
  ra->online_cb_ = options->online_cb;
  ra->message_cb_ = options->message_cb;
  ra->error_cb_ = options->error_cb;
  ra->exit_cb_ = options->exit_cb;
  ra->error_ = NULL;
  ra->exit_code_ = 0;
  ra->ended_ = 0;
  ra->channel = 0;
  ra->loop = loop;
  ra->type = UVA_REMOTE_ACTOR;
  ra->owner_ = uv_thread_self();
  ra->proxy_ = proxy;
  ra->proxy_id_ = uva_actor_proxy_id(proxy);
  ra->state_ = RA_RUNNING;
  /* The init message is the transport's once the command is posted. If the transport ended meanwhile,
   * freeing cmd closes the control port (the exit event says UVA_EXIT_DISCONNECTED) and the init port,
   * which frees the init message queued in it. */
  if (uva_port_post(uva__node_commands(node), cmd) != 0)
    uva_msg_free(cmd);
  return 0;

fail_cmd:
  uva_msg_free(cmd);
fail_proxy:
  uva_actor_proxy_end(proxy, UVA_EXIT_NOPROC, NULL); /* its id was never given out */
fail_init:
  if (options->init != NULL)
    init_take_back(&init);
  return err;
}

uint64_t uva_remote_actor_id(const uva_remote_actor_t *ra) {
  return ra != NULL ? ra->proxy_id_ : 0;
}

uva_port_t *uva_remote_actor_port(uva_remote_actor_t *ra) {
  return ra == NULL || ra->state_ != RA_RUNNING ? NULL : &ra->port_;
}

int uva_remote_terminate(uva_remote_actor_t *ra) {
  uva_msg_t *msg;
  int err;

  if (ra == NULL || (ra->state_ != RA_RUNNING && ra->state_ != RA_ENDED))
    return UV_EINVAL;
  if (!uva__on_thread(&ra->control_.owner_)) /* its state is the loop's to read */
    return UV_EPERM;
  if (ra->state_ == RA_ENDED || (ra->ended_ & (TERMINATE_ASKED | EXIT_KNOWN)))
    return UV_EALREADY;
  err = uva_msg_new(&msg);
  if (err != 0)
    return err;
  msgpack_pack_nil(uva_msg_packer(msg));
  err = uva_port_post(&ra->control_, msg);
  if (err != 0) {
    uva_msg_free(msg);
    return err == UVA_EFORKED ? err : UV_EALREADY; /* forked: a child's copy, the actor is its parent's */
  }
  ra->ended_ |= TERMINATE_ASKED;
  return 0;
}
