/* The actor's side: its thread, its loop, and what it can ask of itself. */
#include <string.h>

#include "actors/actor.h"

/* The actor whose thread this is: links and supervisors ask whether it is ending. */
static __thread uva_self_t *current_self __attribute__((tls_model("initial-exec")));

/* Bytes of text that fit in UVA_FAIL_TEXT_MAX, cut before a UTF-8 sequence rather than inside one. */
static size_t fail_text_len(const char *text) {
  size_t len = strnlen(text, UVA_FAIL_TEXT_MAX + 1);

  if (len <= UVA_FAIL_TEXT_MAX)
    return len;
  /* A UTF-8 sequence has at most three bytes after its first: back over those, not over a run of stray
   * continuation bytes (not UTF-8 at all, which is cut where it is). */
  for (len = UVA_FAIL_TEXT_MAX; len >= UVA_FAIL_TEXT_MAX - 3; len--)
    if (((unsigned char)text[len] & 0xc0) != 0x80)
      return len;
  return UVA_FAIL_TEXT_MAX;
}

int uva__control_msg(int kind, const char *text, uva_msg_t **msgp) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  size_t len;
  int err;

  err = uva_msg_new(&msg);
  if (err != 0)
    return err;
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, text != NULL ? 2 : 1);
  msgpack_pack_int(pk, kind);
  if (text != NULL) {
    len = fail_text_len(text);
    msgpack_pack_str_with_body(pk, text, len);
  }
  err = uva_msg_validate(msg, NULL);
  if (err != 0) {
    uva_msg_free(msg);
    return err;
  }
  *msgp = msg;
  return 0;
}

/* Tells the parent; a control message that cannot be made is lost, and the exit still comes. */
static int control_post(uva_self_t *self, int kind, const char *text) {
  uva_msg_t *msg;
  int err;

  err = uva__control_msg(kind, text, &msg);
  if (err == 0) {
    err = uva_port_post(&self->control, msg);
    if (err != 0)
      uva_msg_free(msg);
  }
  return err;
}

/* Another thread poked the loop: terminate asked it to stop, or uva_actor_elu() to start measuring. */
static void on_wake(void *arg) {
  uva__actor_shared_t *actor = arg;

  if (atomic_load(&actor->stop))
    uv_stop(actor->self.loop);
  uv_mutex_lock(&actor->lock);
  uva__elu_start_locked(actor, 0);
  uv_mutex_unlock(&actor->lock);
}

static void close_any(uv_handle_t *handle, void *arg) {
  (void)arg;
  if (!uv_is_closing(handle))
    uv_close(handle, NULL);
}

/* Ends the actor's loop: its ports close first (messages queued to them are freed, their peers see the close,
 * their close callbacks run), then every other handle is closed. */
static void loop_teardown(uva_self_t *self) {
  int measured;

  self->tearing_down = 1;
  uva__loop_shutdown(self->loop);
  /* Nobody pokes any more (thread_finish() said it no longer runs): with its ports gone, the wakeup goes. */
  uva__loop_release(self->wakeup);
  self->wakeup = NULL;
  uv_walk(self->loop, close_any, NULL);
  /* The first run may only clear a stop asked for by uva_self_exit(); the next ones finish the closes. */
  while (uv_run(self->loop, UV_RUN_DEFAULT) != 0)
    ;
  uva__loop_reap(self->loop);
  /* Its utilization stops here: the loop, which another thread may be reading, goes. */
  uv_mutex_lock(&self->actor->lock);
  measured = self->actor->measure == UVA__MEASURE_ON;
  uva__elu_stop_locked(self->actor);
  uv_mutex_unlock(&self->actor->lock);
  /* A loop that measured would go on measuring, from a count that is not zero: the next actor gets a new one.
   */
  uva__thread_loop_close(self->actor, !measured);
}

/* Whether the parent asked to stop; from now on terminate is too late. */
static int thread_finish(uva__actor_shared_t *actor) {
  int terminated;

  uv_mutex_lock(&actor->lock);
  actor->running = 0;
  actor->ended = 1;
  terminated = actor->terminated;
  uv_mutex_unlock(&actor->lock);
  return terminated;
}

void uva__actor_thread(uva__actor_shared_t *actor) {
  uva_self_t *self = &actor->self;
  int code;
  int err;

  current_self = self;
  uva__cancel_set_thread(&actor->cancel);
  uva__holder_set_thread(&actor->holder);
  uva__spin_set_account(&actor->spin);
  err = uva__thread_loop_open(actor);
  if (err == 0) {
    err = uva__loop_hold(self->loop, on_wake, actor, &self->wakeup);
    if (err != 0)
      uva__thread_loop_close(actor, 0);
  }
  if (err != 0) {
    atomic_store(&actor->failed, 1);
    uva__record_fail(actor->record, uva_strerror(err), strlen(uva_strerror(err)));
    control_post(self, UVA__CONTROL_ERROR, uva_strerror(err));
    thread_finish(actor);
    actor->exit_code = UVA_EXIT_FAILED;
    goto out;
  }
  uv_mutex_lock(&actor->lock);
  actor->running = 1;
  uva__elu_start_locked(actor, 0); /* asked before the loop could be woken */
  uv_mutex_unlock(&actor->lock);

  if (uva_port_post(&self->control, self->online) == 0)
    self->online = NULL;
  if (!atomic_load(&actor->stop)) {
    code = self->main_cb(self);
    if (!self->exit_called)
      self->exit_code = code;
  }
  if (!atomic_load(&actor->stop))
    uv_run(self->loop, UV_RUN_DEFAULT);
  actor->exit_code = thread_finish(actor) ? UVA_EXIT_TERMINATED : self->exit_code;
  /* The actor is ending, however it came to: callbacks its teardown runs (close callbacks, pool requests)
   * start no ports and spawn no actors its end would then miss (UV_ECANCELED), and do not block. */
  uva__cancel_end(&actor->cancel);
  loop_teardown(self);
  uva__spin_set_account(NULL);
  /* Node closes every port a worker holds: the new ones too, which no loop closed; and the actors it spawned
   * without a loop and did not join are terminated and joined, with waits of its own again. */
  uva__cancel_set_thread(NULL);
  uva__holder_close_all(&actor->holder);

out:
  /* A port the actor never started closes here (a started one closed with the loop); the parent sees it. */
  (void)uva_port_close(&self->port);
  uva_msg_free(self->init);
  self->init = NULL;
  uva_msg_free(self->online);
  self->online = NULL;
  /* Its monitors hear of the end now, its names released with its loop. */
  uva__record_end(actor->record, actor->exit_code);
  /* The thread may run another actor: uvactor's thread-locals are as a new thread's. */
  current_self = NULL;
  uva__cancel_set_thread(NULL);
  uva__holder_set_thread(NULL);
  uva__spin_set_account(NULL);
  /* Last: the parent's exit event waits for this close, so the exit code above is already written. */
  uva_port_close(&self->control);
}

uva_self_t *uva__self_current(void) {
  return current_self;
}

int uva__self_ending(void) {
  uva_self_t *self = current_self;

  return self != NULL && (self->tearing_down || atomic_load(&self->actor->stop));
}

uint64_t uva_self_id(uva_self_t *self) {
  return self == NULL ? 0 : self->actor->id;
}

uv_loop_t *uva_self_loop(uva_self_t *self) {
  return self == NULL ? NULL : self->loop;
}

uva_port_t *uva_self_port(uva_self_t *self) {
  return self == NULL ? NULL : &self->port;
}

uva_msg_t *uva_self_init(uva_self_t *self) {
  uva_msg_t *init;

  if (self == NULL)
    return NULL;
  init = self->init;
  self->init = NULL;
  return init;
}

void *uva_self_arg(uva_self_t *self) {
  return self == NULL ? NULL : self->arg;
}

const char *uva_self_name(uva_self_t *self) {
  return self == NULL ? NULL : self->name;
}

int uva_self_should_stop(uva_self_t *self) {
  return self != NULL && atomic_load_explicit(&self->actor->stop, memory_order_relaxed);
}

int uva_self_exit(uva_self_t *self, int exit_code) {
  if (self == NULL)
    return UV_EINVAL;
  if (!self->exit_called) {
    self->exit_called = 1;
    self->exit_code = exit_code;
  }
  atomic_store(&self->actor->stop, 1);
  uva__cancel_fire(&self->actor->cancel);
  uv_stop(self->loop);
  return 0;
}

int uva_self_fail(uva_self_t *self, int exit_code, const char *text) {
  int err;

  if (self == NULL || text == NULL)
    return UV_EINVAL;
  atomic_store(&self->actor->failed, 1);
  uva__record_fail(self->actor->record, text, fail_text_len(text));
  err = control_post(self, UVA__CONTROL_ERROR, text);
  uva_self_exit(self, exit_code);
  return err == UV_ENOMEM ? UV_ENOMEM : 0;
}
