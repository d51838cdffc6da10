/* Names: a process-wide registry of who holds a name now, and channels opened to it (supervise.h).
 *
 * A registration is a channel of its own: its inbox is started on the holder's loop, and its door, the
 * other end, is in the registry; an opener posts on the door, under the registry's lock, so a name released
 * meanwhile is either found with its door open or not found. The request carries two ports: the peer of the
 * opener's new port, for the holder to accept, and the peer of the opener's reply port. Accepting takes both
 * out, posts the request message itself back on the reply peer (the holder allocates nothing) and closes it;
 * a request freed without being accepted (refused, the name released, the holder's loop torn down) closes
 * both ports it carries. So the opener's reply port always closes, after the accept's message if there was
 * one: its close callback is the answer, and nothing can answer twice or not at all. */
#include <string.h>

#include "actors/actor.h"

/* Names by hash, in chains. */
#define BUCKETS 64

/* state_ of a registration; of a request. */
enum { NAME_REGISTERED = 0x75610301, NAME_RELEASING, NAME_RELEASED };
enum { REQ_ACTIVE = 0x75610311, REQ_DONE };

/* req->flags_: the holder accepted. */
enum { ACCEPTED = 1 };

/* The request being accepted, on the stack of the inbox's message callback: accept takes its message, and
 * an unregister inside accept_cb says so, so that nothing touches the name's memory after the callback. */
struct uva__name_pending_s {
  uva_msg_t *msg;
  int released;
};

static uv_mutex_t registry_lock = UVA__MUTEX_INITIALIZER;
static uva_name_t *registry[BUCKETS]; /* [registry_lock] */

/* A forked child's names are its own: the parent's holders are not there to accept (their handles say
 * UVA_EFORKED), so the child starts with an empty registry, and with its lock free. */
static void registry_after_fork(void) {
  UVA__MUTEX_RESET(registry_lock);
  memset(registry, 0, sizeof(registry));
}

UVA__AFTER_FORK(registry_after_fork)

#define NAME_OF(port) uva__container_of(port, uva_name_t, inbox_)
#define REQ_OF(port) uva__container_of(port, uva_name_req_t, reply_)

/* The length of a valid name, or 0. */
static size_t name_len(const char *text) {
  size_t len;

  if (text == NULL)
    return 0;
  len = strnlen(text, UVA_NAME_MAX + 1);
  return len <= UVA_NAME_MAX ? len : 0;
}

/* registry_lock held. The chain a name hashes to (FNV-1a). */
static uva_name_t **chain_of(const char *text, size_t len) {
  uint32_t h = 2166136261u;
  size_t i;

  for (i = 0; i < len; i++)
    h = (h ^ (unsigned char)text[i]) * 16777619u;
  return &registry[h % BUCKETS];
}

/* registry_lock held. Where the registration of text is (or would be linked). */
static uva_name_t **find_locked(const char *text, size_t len) {
  uva_name_t **p;

  for (p = chain_of(text, len); *p != NULL; p = &(*p)->next_)
    if (strcmp((*p)->name_, text) == 0)
      break;
  return p;
}

/* ---- holders ------------------------------------------------------------------------------------------ */

/* Whether the registry holds name, looked up by its address: a handle given to register is the caller's
 * memory, whose fields say nothing until it is registered (a walk of every chain: registering is rare). */
static int held(const uva_name_t *name) {
  const uva_name_t *p;
  size_t i;
  int found = 0;

  uv_mutex_lock(&registry_lock);
  for (i = 0; i < BUCKETS && !found; i++)
    for (p = registry[i]; p != NULL && !found; p = p->next_)
      found = p == name;
  uv_mutex_unlock(&registry_lock);
  return found;
}

/* Out of the registry: no opener finds it from now on. */
static void unlink_name(uva_name_t *name) {
  uva_name_t **p;

  uv_mutex_lock(&registry_lock);
  for (p = chain_of(name->name_, strlen(name->name_)); *p != name; p = &(*p)->next_)
    ;
  *p = name->next_;
  uv_mutex_unlock(&registry_lock);
}

static void release(uva_name_t *name) {
  uva_port_close(&name->door_);
  free(name->name_);
  name->name_ = NULL;
  name->loop = NULL;
  name->state_ = NAME_RELEASED;
}

static void on_request(uva_port_t *inbox, uva_msg_t *msg) {
  uva_name_t *name = NAME_OF(inbox);
  struct uva__name_pending_s pending = {msg, 0};

  name->pending_ = &pending;
  name->accept_cb_(name);
  /* The callback may have unregistered the name and freed it. */
  if (!pending.released)
    name->pending_ = NULL;
  uva_msg_free(pending.msg); /* not accepted: its ports close, and the opener hears it refused */
}

/* The inbox closed: the loop's teardown (the holder's actor ends), or uva_name_unregister(). */
static void on_inbox_close(uva_port_t *inbox) {
  uva_name_t *name = NAME_OF(inbox);

  if (name->state_ != NAME_REGISTERED)
    return; /* uva_name_unregister() finishes */
  unlink_name(name);
  release(name);
}

int uva_name_register(uva_name_t *name, uv_loop_t *loop, const char *text, uva_name_accept_cb accept_cb) {
  size_t len = name_len(text);
  uva_name_t **slot;
  int err;

  if (name == NULL || loop == NULL || accept_cb == NULL || len == 0)
    return UV_EINVAL;
  if (held(name))
    return UV_EBUSY; /* the registry holds it by its name: a second one would be a slot it never leaves */
  name->name_ = uva__strndup(text, len);
  if (name->name_ == NULL)
    return UV_ENOMEM;
  err = uva_channel_init(&name->inbox_, &name->door_);
  if (err != 0)
    goto fail_channel;
  uva__port_pin(&name->door_);   /* the registry's, closed with the name */
  name->state_ = NAME_RELEASING; /* until it is in the registry: an abort below runs no release */
  err = uva_port_start(&name->inbox_, loop, on_request, on_inbox_close);
  if (err != 0)
    goto fail_start;
  uv_mutex_lock(&registry_lock);
  slot = find_locked(name->name_, len);
  if (*slot == NULL) {
    name->next_ = NULL;
    *slot = name;
  } else {
    err = UV_EADDRINUSE;
  }
  uv_mutex_unlock(&registry_lock);
  if (err != 0) {
    uva__port_abort(&name->inbox_);
    goto fail_start;
  }
  name->type = UVA_NAME;
  name->loop = loop;
  name->owner_ = uv_thread_self();
  name->accept_cb_ = accept_cb;
  name->pending_ = NULL;
  name->state_ = NAME_REGISTERED;
  return 0;

fail_start:
  uva_port_close(&name->inbox_); /* UV_EBADF after an abort: closed already */
  uva_port_close(&name->door_);
fail_channel:
  free(name->name_);
  name->name_ = NULL;
  name->state_ = 0;
  return err;
}

/* 0 if the calling thread may use a registered name. */
static int name_check(const uva_name_t *name) {
  if (name == NULL || name->state_ != NAME_REGISTERED)
    return UV_EINVAL;
  if (uva__port_forked(&name->inbox_))
    return UVA_EFORKED;
  return uva__on_thread(&name->owner_) ? 0 : UV_EPERM;
}

int uva_name_accept(uva_name_t *name, uva_port_t *port) {
  msgpack_object obj;
  uva_port_t reply;
  uva_msg_t *msg;
  int err = name_check(name);

  if (err != 0)
    return err;
  if (port == NULL || name->pending_ == NULL || name->pending_->msg == NULL)
    return UV_EINVAL;
  msg = name->pending_->msg;
  /* The library packed it: [port for the holder, reply port]; neither step can fail on it. */
  if (uva_msg_object(msg, &obj) != 0 || uva_msg_take_port(msg, &obj.via.array.ptr[0], port) != 0 ||
      uva_msg_take_port(msg, &obj.via.array.ptr[1], &reply) != 0)
    abort();
  name->pending_->msg = NULL;
  /* The request itself, empty now, is the answer. An opener gone already refuses it: then it is ours. */
  if (uva_port_post(&reply, msg) != 0)
    uva_msg_free(msg);
  uva_port_close(&reply);
  return 0;
}

int uva_name_unregister(uva_name_t *name) {
  int err = name_check(name);

  if (err != 0)
    return err;
  if (name->pending_ != NULL)
    name->pending_->released = 1; /* inside accept_cb: on_request() frees the request it was given */
  unlink_name(name);
  name->state_ = NAME_RELEASING;
  /* Requests queued to the inbox are freed now: their openers hear they were refused. */
  uva__port_abort(&name->inbox_);
  release(name);
  return 0;
}

/* ---- openers ------------------------------------------------------------------------------------------ */

/* Makes port (the opener's) and reply, and the request that carries their peers. */
static int request_new(uva_port_t *port, uva_port_t *reply, uva_msg_t **msgp) {
  uva_port_t peer;
  uva_port_t answer;
  uva_msg_t *msg;
  int err;

  err = uva_channel_init(port, &peer);
  if (err != 0)
    return err;
  err = uva_channel_init(reply, &answer);
  if (err != 0)
    goto fail_reply;
  err = uva_msg_new(&msg);
  if (err != 0)
    goto fail_msg;
  msgpack_pack_array(uva_msg_packer(msg), 2);
  err = uva_msg_pack_port(msg, &peer);
  if (err != 0)
    goto fail_pack;
  err = uva_msg_pack_port(msg, &answer);
  if (err != 0) {
    uva_msg_free(msg); /* closes peer */
    uva_port_close(&answer);
    uva_port_close(reply);
    uva_port_close(port);
    return err;
  }
  *msgp = msg;
  return 0;

fail_pack:
  uva_msg_free(msg);
fail_msg:
  uva_port_close(&answer);
  uva_port_close(reply);
fail_reply:
  uva_port_close(&peer);
  uva_port_close(port);
  return err;
}

/* Gives the request to the holder of text; a request nobody took is freed, which refuses it. */
static void request_send(const char *text, size_t len, uva_msg_t *msg) {
  uva_name_t *holder;
  int err = UV_ECONNREFUSED;

  uv_mutex_lock(&registry_lock);
  holder = *find_locked(text, len);
  if (holder != NULL)
    err = uva_port_post(&holder->door_, msg);
  uv_mutex_unlock(&registry_lock);
  if (err != 0)
    uva_msg_free(msg);
}

static void on_reply(uva_port_t *reply, uva_msg_t *msg) {
  REQ_OF(reply)->flags_ |= ACCEPTED;
  uva_msg_free(msg);
}

/* The reply port closed: after the holder's answer, if it accepted; or refused; or this loop's teardown. */
static void on_reply_close(uva_port_t *reply) {
  uva_name_req_t *req = REQ_OF(reply);
  int status = 0;

  if (uva__self_ending())
    status = UV_ECANCELED;
  else if (!(req->flags_ & ACCEPTED))
    status = UV_ECONNREFUSED;
  if (status != 0)
    uva_port_close(req->port_);
  req->state_ = REQ_DONE;
  req->loop = NULL;
  req->open_cb_(req, status);
}

int uva_name_open(uva_name_req_t *req, uv_loop_t *loop, const char *text, uva_name_open_cb open_cb,
                  uva_port_t *port) {
  size_t len = name_len(text);
  uva_msg_t *msg;
  int err;

  if (req == NULL || loop == NULL || open_cb == NULL || port == NULL || len == 0)
    return UV_EINVAL;
  err = request_new(port, &req->reply_, &msg);
  if (err != 0)
    return err;
  err = uva_port_start(&req->reply_, loop, on_reply, on_reply_close);
  if (err != 0) {
    uva_msg_free(msg);
    uva_port_close(&req->reply_);
    uva_port_close(port);
    return err;
  }
  req->type = UVA_NAME_REQ;
  req->loop = loop;
  req->owner_ = uv_thread_self();
  req->port_ = port;
  req->open_cb_ = open_cb;
  req->flags_ = 0;
  req->state_ = REQ_ACTIVE;
  request_send(text, len, msg);
  return 0;
}

int uva_name_open_wait(const char *text, int64_t timeout_ms, uva_port_t *port) {
  size_t len = name_len(text);
  uva_port_t reply;
  uva_msg_t *msg;
  int err;

  if (port == NULL || len == 0)
    return UV_EINVAL;
  err = request_new(port, &reply, &msg);
  if (err != 0)
    return err;
  request_send(text, len, msg);
  err = uva_port_receive_wait(&reply, &msg, timeout_ms);
  uva_port_close(&reply);
  if (err == 0) {
    uva_msg_free(msg); /* the holder's answer: accepted */
    return 0;
  }
  uva_port_close(port);
  return err == UV_EPIPE ? UV_ECONNREFUSED : err;
}
