/* The parent's side of an actor: spawn, the events on the parent's loop, terminate and join. */
#include <stdlib.h>
#include <string.h>

#include "actors/actor.h"

/* flags_. Both private ports must close before the exit event: data (the actor's messages are all delivered)
 * and control (the actor's thread is done). An error ends the actor, so its event waits for the same moment:
 * the control channel could otherwise overtake the actor's last messages. UNREFD: the parent asked that the
 * actor not keep its loop alive; it applies to whichever of the two ports is still open. LOOP_PARENT: spawned
 * with a loop, which gets the events. JOINING: a loop-less actor's join is under way (atomic: any thread).
 * LINKED: UVA_ACTOR_LINK. STOPPED_HERE: terminated by the parent's own thread, which a link does not count
 * as abnormal (atomic: set by terminate while another thread may join). */
enum {
  DATA_CLOSED = 1,
  CONTROL_CLOSED = 2,
  UNREFD = 4,
  LOOP_PARENT = 8,
  JOINING = 16,
  LINKED = 32,
  STOPPED_HERE = 64
};

#define ACTOR_OF(port, field) uva__container_of(port, uva_actor_t, field)

/* What the error event says when the actor's text did not arrive (an allocation failed on the way). */
static const char error_text_lost[] = "the actor failed; its error text was lost (out of memory)";

static void shared_destroy(uva__actor_shared_t *shared) {
  uva__cancel_destroy(&shared->cancel);
  uv_mutex_destroy(&shared->lock);
  free(shared);
}

static int join_thread(uva_actor_t *actor) {
  uva__actor_shared_t *shared = actor->shared_;
  unsigned int flags;
  int code;

  uva__thread_join(shared);
  code = shared->exit_code;
  /* A terminate from another thread may be looking at shared: it leaves before shared goes. */
  uva__guard_retire(&actor->state_, UVA__ACTOR_ENDED, &actor->inflight_);
  uva__hold_release(&actor->hold_);
  shared_destroy(shared);
  actor->shared_ = NULL;
  actor->exit_code_ = code;
  flags = __atomic_load_n(&actor->flags_, __ATOMIC_ACQUIRE);
  if (flags & LINKED)
    uva__link_child_ended(code, (flags & STOPPED_HERE) != 0);
  return code;
}

static void maybe_exit(uva_actor_t *actor, unsigned int closed) {
  int code;

  if (actor->state_ != UVA__ACTOR_RUNNING) /* a spawn that failed, closing its ports */
    return;
  actor->flags_ |= closed;
  if ((actor->flags_ & (DATA_CLOSED | CONTROL_CLOSED)) != (DATA_CLOSED | CONTROL_CLOSED))
    return;
  /* Both ports closed while the actor still runs only when this loop is being torn down (its own actor is
   * ending): the child goes with it, as Node's nested workers do. After a natural end this does nothing. */
  uva_actor_terminate(actor);
  if (actor->error_ == NULL && atomic_load(&actor->shared_->failed))
    actor->error_ = (char *)error_text_lost;
  code = join_thread(actor);
  if (actor->error_ != NULL) {
    if (actor->error_cb_ != NULL)
      actor->error_cb_(actor, actor->error_);
    if (actor->error_ != error_text_lost)
      free(actor->error_);
    actor->error_ = NULL;
  }
  if (actor->exit_cb_ != NULL)
    actor->exit_cb_(actor, code);
}

static void on_data_message(uva_port_t *port, uva_msg_t *msg) {
  uva_actor_t *actor = ACTOR_OF(port, port_);

  if (actor->message_cb_ != NULL)
    actor->message_cb_(actor, msg);
  else
    uva_msg_free(msg);
}

static void on_data_close(uva_port_t *port) {
  maybe_exit(ACTOR_OF(port, port_), DATA_CLOSED);
}

static void on_control_message(uva_port_t *port, uva_msg_t *msg) {
  uva_actor_t *actor = ACTOR_OF(port, control_);
  const msgpack_object *item;
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size == 0)
    goto out;
  item = obj.via.array.ptr;
  if (item[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    goto out;
  if (item[0].via.u64 == UVA__CONTROL_ONLINE) {
    if (actor->online_cb_ != NULL)
      actor->online_cb_(actor);
  } else if (item[0].via.u64 == UVA__CONTROL_ERROR && obj.via.array.size == 2 && actor->error_ == NULL) {
    /* The view's str is not NUL-terminated; the callback gets a C string, or at least says it failed. */
    actor->error_ = uva__strndup(item[1].via.str.ptr, item[1].via.str.size);
    if (actor->error_ == NULL)
      actor->error_ = (char *)error_text_lost;
  }
out:
  uva_msg_free(msg);
}

static void on_control_close(uva_port_t *port) {
  maybe_exit(ACTOR_OF(port, control_), CONTROL_CLOSED);
}

int uva__actor_options_valid(uv_loop_t *loop, const uva_actor_options_t *options) {
  if ((options->flags & ~(UVA_ACTOR_LINK | UVA_ACTOR_NEW_THREAD)) != 0)
    return 0;
  if (options->name != NULL && strlen(options->name) >= sizeof(((uva_self_t *)0)->name))
    return 0;
  /* libuv would round a small stack up to PTHREAD_STACK_MIN (16 KiB), which the loop alone overflows. */
  if (options->stack_size != 0 && options->stack_size < UVA_ACTOR_STACK_MIN)
    return 0;
  /* libuv rounds the size up to whole pages: one that would wrap past SIZE_MAX came out as 16 KiB. */
  if (options->stack_size > SIZE_MAX - 65536)
    return 0;
  /* Without a loop there is nowhere to run callbacks. */
  return loop != NULL || (options->online_cb == NULL && options->message_cb == NULL &&
                          options->error_cb == NULL && options->exit_cb == NULL);
}

static int shared_new(uva_actor_t *actor, uva_actor_main_cb main_cb, const uva_actor_options_t *options,
                      uva__actor_shared_t **out) {
  uva__actor_shared_t *shared;
  uva_self_t *self;
  int err;

  shared = uva__calloc(1, sizeof(*shared));
  if (shared == NULL)
    return UV_ENOMEM;
  err = uva__record_new(&shared->record, 0);
  if (err != 0)
    goto fail_record;
  shared->id = shared->record->id;
  err = uv_mutex_init(&shared->lock);
  if (err != 0)
    goto fail_lock;
  err = uva__cancel_init(&shared->cancel);
  if (err != 0)
    goto fail_cancel;
  uva__holder_init(&shared->holder);
  atomic_init(&shared->stop, 0);
  shared->generation = uva__fork_generation;
  atomic_init(&shared->failed, 0);
  uva__spin_account_init(&shared->spin);
  self = &shared->self;
  self->actor = shared;
  self->main_cb = main_cb;
  self->arg = options->arg;
  if (options->name != NULL)
    strcpy(self->name, options->name);
  err = uva_channel_init(&actor->port_, &self->port);
  if (err != 0)
    goto fail_data;
  err = uva_channel_init(&actor->control_, &self->control);
  if (err != 0)
    goto fail_control;
  /* The actor layer closes its own ports: none is held by an ending actor that spawned this one. */
  uva__port_pin(&actor->port_);
  uva__port_pin(&self->port);
  uva__port_pin(&actor->control_);
  uva__port_pin(&self->control);
  uva_port_set_limits(&self->port, options->max_messages, options->max_bytes);
  err = uva_port_set_spin(&self->port, options->spin_us == 0              ? UVA_SPIN_DEFAULT_US
                                       : options->spin_us == UVA_SPIN_OFF ? 0
                                                                          : options->spin_us);
  if (err == 0)
    err = uva__control_msg(UVA__CONTROL_ONLINE, NULL, &self->online);
  if (err != 0)
    goto fail_spin;
  *out = shared;
  return 0;

fail_spin:
  uva_port_close(&actor->control_);
  uva_port_close(&self->control);
fail_control:
  uva_port_close(&actor->port_);
  uva_port_close(&self->port);
fail_data:
  uva__cancel_destroy(&shared->cancel);
fail_cancel:
  uv_mutex_destroy(&shared->lock);
fail_lock:
  uva__record_end(shared->record, UVA_EXIT_NOPROC); /* never was: a monitor that found it hears so */
fail_record:
  free(shared);
  return err;
}

static void shared_free(uva_actor_t *actor, uva__actor_shared_t *shared) {
  uva_msg_free(shared->self.online);
  uva__port_abort(&actor->port_);
  uva__port_abort(&actor->control_);
  uva_port_close(&shared->self.port);
  uva_port_close(&shared->self.control);
  uva__record_end(shared->record, UVA_EXIT_NOPROC);
  shared_destroy(shared);
}

static int start_parent_ports(uva_actor_t *actor, uv_loop_t *loop) {
  int err;

  err = uva_port_start(&actor->port_, loop, on_data_message, on_data_close);
  if (err == 0)
    err = uva_port_start(&actor->control_, loop, on_control_message, on_control_close);
  return err;
}

int uva_actor_spawn(uva_actor_t *actor, uv_loop_t *loop, uva_actor_main_cb main_cb,
                    const uva_actor_options_t *options) {
  static const uva_actor_options_t defaults;
  uva__actor_shared_t *shared = NULL; /* set by shared_new(); gcc -O1 cannot tell */
  int err;

  if (options == NULL)
    options = &defaults;
  if (actor == NULL || main_cb == NULL || !uva__actor_options_valid(loop, options))
    return UV_EINVAL;
  /* An actor in its teardown spawns nothing: its end could not terminate and join it. */
  if (uva__cancel_thread_ending())
    return UV_ECANCELED;
  err = shared_new(actor, main_cb, options, &shared);
  if (err != 0)
    return err;
  actor->loop = loop;
  actor->type = UVA_ACTOR;
  actor->online_cb_ = options->online_cb;
  actor->message_cb_ = options->message_cb;
  actor->error_cb_ = options->error_cb;
  actor->exit_cb_ = options->exit_cb;
  actor->shared_ = shared;
  actor->flags_ = options->flags & UVA_ACTOR_LINK ? LINKED : 0;
  actor->owner_ = uv_thread_self();
  actor->inflight_ = 0;
  actor->exit_code_ = 0;
  actor->error_ = NULL;
  memcpy(actor->reserved_, &shared->id, sizeof(shared->id)); /* for uva_actor_id() */
  uva__guard_publish(&actor->state_, UVA__ACTOR_RUNNING);
  if (loop != NULL) {
    actor->flags_ |= LOOP_PARENT;
    /* Started before the thread exists, so a failure here undoes nothing the actor did. */
    err = start_parent_ports(actor, loop);
    if (err != 0)
      goto fail;
  }
  shared->self.init = options->init;
  err = uva__thread_start(shared, options->stack_size, !(options->flags & UVA_ACTOR_NEW_THREAD));
  if (err == 0) {
    /* A loop-less actor an actor spawns is joined by that actor's end if not before. */
    if (loop == NULL)
      uva__hold(&actor->hold_, actor);
    else
      actor->hold_.holder = NULL;
    return 0;
  }
  shared->self.init = NULL;

fail:
  uva__guard_publish(&actor->state_, 0);
  shared_free(actor, shared);
  actor->shared_ = NULL;
  return err;
}

/* The id lives in the handle fields' reserved space, which has room for it (uva_actor_t has no other at its
 * pinned size); memcpy, because a void * array need not be aligned for a uint64_t. */
_Static_assert(sizeof(((uva_actor_t *)0)->reserved_) >= sizeof(uint64_t), "room for the id");

uint64_t uva_actor_id(const uva_actor_t *actor) {
  uint64_t id = 0;
  unsigned int state;

  if (actor == NULL)
    return 0;
  state = __atomic_load_n(&actor->state_, __ATOMIC_ACQUIRE);
  if (state == UVA__ACTOR_RUNNING || state == UVA__ACTOR_ENDED)
    memcpy(&id, actor->reserved_, sizeof(id));
  return id;
}

uva_port_t *uva_actor_port(uva_actor_t *actor) {
  /* Any thread may ask while the parent's thread retires the handle (join_thread). */
  return actor != NULL && __atomic_load_n(&actor->state_, __ATOMIC_ACQUIRE) == UVA__ACTOR_RUNNING
             ? &actor->port_
             : NULL;
}

int uva_actor_terminate(uva_actor_t *actor) {
  uva__actor_shared_t *shared;
  unsigned int state;
  int err = 0;

  if (actor == NULL)
    return UV_EINVAL;
  state = uva__guard_enter(&actor->state_, &actor->inflight_, uva__actor_running);
  if (state != UVA__ACTOR_RUNNING)
    return state == UVA__ACTOR_ENDED ? UV_EALREADY : UV_EINVAL;
  shared = actor->shared_;
  if (shared->generation != uva__fork_generation) {
    /* A child's copy: its stop would wake the parent's actor. */
    uva__guard_leave(&actor->inflight_);
    return UVA_EFORKED;
  }
  uv_mutex_lock(&shared->lock);
  if (shared->ended || shared->terminated) {
    err = UV_EALREADY;
  } else {
    shared->terminated = 1;
    atomic_store(&shared->stop, 1);
    if (shared->running)
      uva__loop_poke(shared->self.wakeup);
  }
  uv_mutex_unlock(&shared->lock);
  if (err == 0)
    uva__cancel_fire(&shared->cancel); /* a wait in uvactor's calls ends with UV_ECANCELED */
  /* The parent's own decision: a link does not count it as a failure. */
  if (err == 0 && uva__on_thread(&actor->owner_))
    __atomic_fetch_or(&actor->flags_, STOPPED_HERE, __ATOMIC_RELEASE);
  uva__guard_leave(&actor->inflight_);
  return err;
}

/* Milliseconds left until deadline (uv_hrtime() nanoseconds), rounded up: a part of one is a wait of one,
 * not of 0, which would give up before the deadline. */
static int64_t ms_left(uint64_t deadline) {
  uint64_t now = uv_hrtime();
  return now < deadline ? (int64_t)((deadline - now + 999999) / 1000000) : 0;
}

/* Waits, as uva_actor_join() says, for the actor's thread to end and joins it; the caller holds JOINING. */
static int join_loopless(uva_actor_t *actor, int64_t timeout_ms, int *exit_code) {
  uint64_t deadline = timeout_ms > 0 ? uva__deadline(timeout_ms) : uv_hrtime();
  uva_msg_t *msg;
  int err;

  /* The control port closes as the actor's thread ends; what it carried before is for loop parents. An
   * actor's end is often near when its parent joins it: the join waits for it spinning first, before it
   * sleeps. */
  if (timeout_ms != 0)
    uva__thread_spin_done(actor->shared_);
  for (;;) {
    err = uva_port_receive_wait(
        &actor->control_, &msg,
        timeout_ms < 0 || deadline == UINT64_MAX ? UVA_WAIT_FOREVER : ms_left(deadline));
    if (err != 0)
      break;
    uva_msg_free(msg);
  }
  if (err != UV_EPIPE)
    return err;
  uva_port_close(&actor->control_);
  uva_port_close(&actor->port_);
  err = join_thread(actor);
  if (exit_code != NULL)
    *exit_code = err;
  return 0;
}

int uva_actor_join(uva_actor_t *actor, int64_t timeout_ms, int *exit_code) {
  unsigned int state;
  int err;

  if (actor == NULL)
    return UV_EINVAL;
  state = uva__guard_enter(&actor->state_, &actor->inflight_, uva__actor_running);
  if (state != UVA__ACTOR_RUNNING)
    return state == UVA__ACTOR_ENDED ? UV_EALREADY : UV_EINVAL;
  err = actor->shared_->generation != uva__fork_generation                ? UVA_EFORKED
        : __atomic_load_n(&actor->flags_, __ATOMIC_RELAXED) & LOOP_PARENT ? UV_EINVAL
                                                                          : 0;
  uva__guard_leave(&actor->inflight_);
  if (err != 0)
    return err;
  /* One joiner at a time: a second would join the thread twice. */
  if (__atomic_fetch_or(&actor->flags_, JOINING, __ATOMIC_ACQUIRE) & JOINING)
    return UV_EBUSY;
  err = join_loopless(actor, timeout_ms, exit_code);
  if (err != 0)
    __atomic_fetch_and(&actor->flags_, ~JOINING, __ATOMIC_RELEASE);
  return err;
}

void uva__actor_reap(uva_actor_t *actor) {
  (void)uva_actor_terminate(actor);
  (void)uva_actor_join(actor, UVA_WAIT_FOREVER, NULL);
}

/* 0 if the actor was spawned with a loop run by the calling thread and its exit event has not come yet. */
static int actor_check_loop(const uva_actor_t *actor) {
  const uva_port_t *open;

  if (actor == NULL || actor->state_ != UVA__ACTOR_RUNNING || !(actor->flags_ & LOOP_PARENT))
    return UV_EINVAL;
  /* One of the two ports is open until the exit event, started on the parent's loop. */
  open = actor->flags_ & DATA_CLOSED ? &actor->control_ : &actor->port_;
  return uva__endpoint_check((const uva__endpoint_t *)open, 0);
}

/* ref (1) or unref (0) of each of the actor's two ports that is still open. */
static int actor_set_ref(uva_actor_t *actor, int ref) {
  int err = actor_check_loop(actor);

  if (err != 0)
    return err;
  actor->flags_ = ref ? actor->flags_ & ~UNREFD : actor->flags_ | UNREFD;
  if (!(actor->flags_ & DATA_CLOSED))
    (void)(ref ? uva_port_ref(&actor->port_) : uva_port_unref(&actor->port_));
  if (!(actor->flags_ & CONTROL_CLOSED))
    (void)(ref ? uva_port_ref(&actor->control_) : uva_port_unref(&actor->control_));
  return 0;
}

int uva_actor_ref(uva_actor_t *actor) {
  return actor_set_ref(actor, 1);
}

int uva_actor_unref(uva_actor_t *actor) {
  return actor_set_ref(actor, 0);
}

int uva_actor_has_ref(const uva_actor_t *actor) {
  return actor_check_loop(actor) == 0 && !(actor->flags_ & UNREFD);
}
