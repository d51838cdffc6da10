/* The task pool's life: init, close, join, and the owner's turns (callbacks, keepalive, the dispatcher of
 * a pool without a loop).
 *
 * Callbacks never run inside a call: a completion a call causes (cancel, close) is queued on the pool and
 * run by uva__tpool_flush() on the owner's next turn (an idle handle, or the doorbell of a pool without a
 * loop); a completion a worker causes is run at the end of the loop callback that saw it. */
#include <stdio.h>

#include "actors/lifeline.h"
#include "tpool.h"

/* ---- calls, the lock, the owner's thread --------------------------------------------------------- */

/* Whether a pool handle in state still points to its pool (common/guard.h). */
static int tpool_open(unsigned int state) {
  return state == TPOOL_OPEN || state == TPOOL_CLOSING;
}

int uva__tpool_enter(uva_tpool_t *pool, uva__tpool_t **pp) {
  unsigned int state;

  if (pool == NULL)
    return UV_EINVAL;
  if (pool->flags_ & TPOOL_HANDLE_LOOPLESS)
    state = uva__guard_enter(&pool->state_, &pool->inflight_, tpool_open);
  else
    state = pool->state_;
  if (!tpool_open(state))
    return state == TPOOL_CLOSED ? UV_EBADF : UV_EINVAL;
  *pp = pool->impl_;
  if ((*pp)->generation != uva__fork_generation) {
    uva__tpool_leave(pool);
    return UVA_EFORKED; /* a child's copy: the pool's threads are its parent's */
  }
  if (!(*pp)->loopless && !uva__tpool_is_owner(*pp))
    return UV_EPERM;
  return 0;
}

void uva__tpool_leave(uva_tpool_t *pool) {
  if (pool->flags_ & TPOOL_HANDLE_LOOPLESS)
    uva__guard_leave(&pool->inflight_);
}

void uva__tpool_lock(uva__tpool_t *p) {
  uv_mutex_lock(&p->lock);
}

void uva__tpool_unlock(uva__tpool_t *p) {
  uv_mutex_unlock(&p->lock);
}

int uva__tpool_is_owner(const uva__tpool_t *p) {
  uv_thread_t self = uv_thread_self();

  return uv_thread_equal(&self, &p->owner);
}

static void on_flush(uv_idle_t *idle);

/* Wakes the dispatcher of a pool without a loop from another thread: its doorbell is one message, at rest
 * in the pool or on its way; the dispatcher puts it back before it looks at the pool, so a change made
 * after that rings again. */
static void ring(uva__tpool_t *p) {
  uva_msg_t *doorbell = p->doorbell;

  if (doorbell == NULL)
    return;
  p->doorbell = NULL;
  if (uva_port_post(uva_actor_port(&p->dispatcher), doorbell) != 0)
    p->doorbell = doorbell; /* the dispatcher is ending: it has looked for the last time */
}

void uva__tpool_poke(uva__tpool_t *p) {
  if (!uva__tpool_is_owner(p))
    ring(p);
  else if (!p->finishing)
    uv_idle_start(&p->flush, on_flush);
}

void uva__tpool_flush(uva__tpool_t *p) {
  uva_tpool_room_cb room;
  uva_task_t *task;
  uva_msg_t *result;
  char *text;
  int status;
  int owned;

  uva__tpool_lock(p);
  for (;;) {
    task = p->due_head;
    if (task != NULL) {
      p->due_head = task->next_;
      if (p->due_head == NULL)
        p->due_tail = NULL;
      status = task->status_;
      result = task->msg_;
      text = task->text_;
      owned = (task->flags_ & TASK_TEXT_OWNED) != 0;
      task->msg_ = NULL;
      task->text_ = NULL;
      __atomic_store_n(&task->state_, TASK_DONE, __ATOMIC_RELEASE);
      uva__tpool_unlock(p);
      task->cb_(task, status, result, status != 0 && text == NULL ? uva_strerror(status) : text);
      if (owned)
        free(text);
      uva__tpool_lock(p);
      continue;
    }
    /* Room means room: the callback runs only when a submit made in it would be queued. */
    if (p->room_cb != NULL && !p->closing && (p->max_queue == 0 || p->queued < p->max_queue)) {
      room = p->room_cb;
      p->room_cb = NULL;
      uva__tpool_unlock(p);
      room(p->handle);
      uva__tpool_lock(p);
      continue;
    }
    break;
  }
  uva__tpool_settle(p);
  uva__tpool_unlock(p);
}

/* A turn of the owner: what calls left for it (a close to act on, tasks submitted from other threads),
 * then the callbacks due. */
static void owner_turn(uva__tpool_t *p) {
  int closing;

  uva__tpool_lock(p);
  closing = p->closing && !p->close_begun;
  if (closing)
    uva__tpool_close_step(p);
  if (!p->finishing) {
    uva__tpool_dispatch(p);
    uva__tpool_starve(p);
  }
  uva__tpool_unlock(p);
  if (closing)
    uva__tpool_stop_workers(p);
  uva__tpool_flush(p);
}

static void on_flush(uv_idle_t *idle) {
  uva__tpool_t *p = idle->data;

  uv_idle_stop(idle);
  owner_turn(p);
}

/* ---- closing ------------------------------------------------------------------------------------- */

void uva__tpool_close_step(uva__tpool_t *p) {
  uva__tpool_worker_t *w;
  unsigned int i;

  p->close_begun = 1;
  if (p->close_flags & UVA_TPOOL_CLOSE_CANCEL) {
    uva__tpool_fail_queued(p, UV_ECANCELED, "the pool was closed with UVA_TPOOL_CLOSE_CANCEL");
    for (w = p->workers; w != NULL; w = w->next) {
      for (i = 0; i < w->nctx; i++)
        if (w->ctx[i].state != CTX_FREE && w->ctx[i].task != NULL)
          uva__tpool_abandon(p, w->ctx[i].task, UV_ECANCELED);
      uva__tpool_worker_ending(w);
    }
  }
  uva__tpool_poke(p);
}

void uva__tpool_stop_workers(uva__tpool_t *p) {
  uva__tpool_worker_t *w;

  for (w = p->workers; w != NULL; w = w->next)
    if (w->state == WORKER_ENDING)
      (void)uva_actor_terminate(&w->actor); /* UV_EALREADY: it is ending already */
}

/* Closes with flags (close_cb is kept from the first close); lock held. 0, or UV_EALREADY. The owner then
 * calls uva__tpool_stop_workers(), without the lock (close_pool() does both). On the owner's thread, a close
 * another thread asked for and the owner has not acted on yet is stepped too, even when this one changes
 * nothing (UV_EALREADY): the owner's turn that would have stepped it may never come (the lifeline closing
 * under a pool without a loop drops the doorbell with the dispatcher's loop). */
static int close_locked(uva__tpool_t *p, unsigned int flags, uva_tpool_close_cb close_cb) {
  int err = 0;

  if (!p->closing) {
    p->closing = 1;
    p->close_flags = flags;
    p->close_cb = close_cb;
    p->room_cb = NULL;
    uva__guard_publish(&p->handle->state_, TPOOL_CLOSING);
  } else if ((flags & UVA_TPOOL_CLOSE_CANCEL) && !(p->close_flags & UVA_TPOOL_CLOSE_CANCEL)) {
    p->close_flags = flags;
    p->close_begun = 0;
  } else {
    err = UV_EALREADY;
  }
  if (uva__tpool_is_owner(p)) {
    if (!p->close_begun)
      uva__tpool_close_step(p);
  } else if (err == 0) {
    uva__tpool_poke(p);
  }
  return err;
}

/* close_locked() with the lock taken and let go, then, on the owner's thread, the workers it marked ending
 * are asked to stop, without the lock (uva__tpool_stop_workers()). */
static int close_pool(uva__tpool_t *p, unsigned int flags, uva_tpool_close_cb close_cb) {
  int err;

  uva__tpool_lock(p);
  err = close_locked(p, flags, close_cb);
  uva__tpool_unlock(p);
  if (uva__tpool_is_owner(p))
    uva__tpool_stop_workers(p); /* after UV_EALREADY too: a worker asked already says UV_EALREADY */
  return err;
}

/* A draining pool retires each worker once it is idle and nothing is left to give it. */
static void retire_idle(uva__tpool_t *p) {
  uva__tpool_worker_t *w;
  uva__tpool_worker_t *next;

  if (p->queued != 0)
    return;
  for (w = p->workers; w != NULL; w = next) {
    next = w->next;
    if (w->held == 0)
      uva__tpool_retire(w);
  }
}

static void pool_free(uva__tpool_t *p) {
  uva_msg_free(p->doorbell);
  uv_cond_destroy(&p->cond);
  uv_mutex_destroy(&p->lock);
  uva__tpool_stats_free(p);
  free(p);
}

/* One of the owner's handles closed; the last frees the pool (a pool without a loop: ends the dispatcher). */
static void handle_closed(uva__tpool_t *p) {
  uva_tpool_close_cb close_cb;
  uva_tpool_t *pool;

  if (--p->handles > 0)
    return;
  if (p->loopless) {
    /* The dispatcher's loop has nothing left: its thread ends, and uva_tpool_join() frees the pool. */
    uva_port_close(uva_self_port(p->dispatcher_self));
    return;
  }
  pool = p->handle;
  close_cb = p->close_cb;
  pool_free(p);
  pool->impl_ = NULL;
  pool->state_ = TPOOL_CLOSED;
  if (close_cb != NULL)
    close_cb(pool);
}

static void on_handle_closed(uv_handle_t *handle) {
  handle_closed(handle->data);
}

static void close_handles(uva__tpool_t *p) {
  p->handles = 4;
  uv_close((uv_handle_t *)&p->flush, on_handle_closed);
  uv_close((uv_handle_t *)&p->timeouts, on_handle_closed);
  uv_close((uv_handle_t *)&p->idle, on_handle_closed);
  uv_close((uv_handle_t *)&p->keepalive, on_handle_closed);
  if (!p->torn_down) {
    p->handles++;
    uva_port_close(&p->lifeline);
  }
  uva_port_close(&p->lifeline_peer);
}

static int has_work(const uva__tpool_t *p) {
  return p->inflight != 0 || p->due_head != NULL || p->nretiring != 0 || p->closing;
}

void uva__tpool_settle(uva__tpool_t *p) {
  if (p->finishing || !uva__tpool_is_owner(p))
    return;
  if (p->closing && p->close_begun)
    retire_idle(p);
  if (p->closing && p->close_begun && p->nworkers == 0 && p->queued == 0 && p->due_head == NULL) {
    p->finishing = 1;
    close_handles(p);
    return;
  }
  if (p->loopless)
    return;
  if (has_work(p))
    uv_ref((uv_handle_t *)&p->keepalive);
  else
    uv_unref((uv_handle_t *)&p->keepalive);
}

/* ---- init ---------------------------------------------------------------------------------------- */

static void on_keepalive(uv_check_t *check) {
  (void)check;
}

/* The owner's handles, on its loop; none of these calls can fail. */
static void handles_init(uva__tpool_t *p) {
  uv_idle_init(p->loop, &p->flush);
  uv_timer_init(p->loop, &p->timeouts);
  uv_timer_init(p->loop, &p->idle);
  uv_check_init(p->loop, &p->keepalive);
  p->flush.data = p->timeouts.data = p->idle.data = p->keepalive.data = p;
  uv_check_start(&p->keepalive, on_keepalive);
  uv_unref((uv_handle_t *)&p->keepalive);
}

static int options_valid(const uva_tpool_options_t *o) {
  const uva_actor_options_t worker = {.stack_size = o->stack_size};
  size_t i;

  if (o->per_thread > TPOOL_PER_THREAD_MAX || (o->name != NULL && strlen(o->name) > TPOOL_NAME_MAX) ||
      (o->flags & ~UVA_TPOOL_STATS) != 0)
    return 0;
  /* A worker is an actor: its stack is one an actor may have, or every start would fail. */
  if (!uva__actor_options_valid(NULL, &worker))
    return 0;
  if (o->max_threads != 0 && o->min_threads != UVA_TPOOL_MIN_NONE && o->min_threads > o->max_threads)
    return 0;
  for (i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
    if (o->reserved[i] != NULL)
      return 0;
  return 1;
}

static void apply_options(uva__tpool_t *p, const uva_tpool_options_t *o) {
  p->max_threads = o->max_threads != 0 ? o->max_threads : uv_available_parallelism();
  p->min_threads = o->min_threads == 0 ? p->max_threads : o->min_threads;
  if (p->min_threads != UVA_TPOOL_MIN_NONE && p->min_threads > p->max_threads)
    p->min_threads = p->max_threads; /* only with max_threads 0, on a machine with fewer CPUs */
  p->idle_ms = o->idle_ms != 0 ? o->idle_ms : TPOOL_IDLE_MS_DEFAULT;
  p->per_thread = o->per_thread != 0 ? o->per_thread : 1;
  p->max_queue = o->max_queue;
  p->stack_size = o->stack_size;
  p->flags = o->flags;
  p->thread_init = o->thread_init;
  p->thread_exit = o->thread_exit;
  p->arg = o->arg;
  snprintf(p->name, sizeof(p->name), "%s", o->name != NULL ? o->name : "tpool");
}

/* ---- the owner's start, and the end of its loop under the pool ----------------------------------- */

/* The lifeline (actors/lifeline.h), started on the owner's loop before any worker, closing while the pool
 * does not close it: the actor that runs the loop is ending, and the pool hears of it before the first
 * worker's ports close and that worker is joined. It closes cancelling then: every worker is asked to stop
 * before any is joined, so none takes a queued task meanwhile, and once they are all joined the pool's state
 * is freed (close_cb runs if a close asked for one). */
static void on_lifeline_close(uva_port_t *port) {
  uva__tpool_t *p = port->data;

  if (p == NULL)
    return; /* the start failed: nothing to do */
  if (p->finishing) {
    handle_closed(p);
    return;
  }
  p->torn_down = 1;
  (void)close_pool(p, UVA_TPOOL_CLOSE_CANCEL, NULL); /* UV_EALREADY: cancelling already */
  uva__tpool_flush(p);
}

/* The owner's side, on its thread and loop: the lifeline first, then min_threads workers, then the handles,
 * which cannot fail. On error nothing is left. */
static int owner_start(uva__tpool_t *p) {
  int err;

  err = uva__lifeline_start(&p->lifeline, &p->lifeline_peer, p->loop, p, on_lifeline_close);
  if (err != 0)
    return err;
  uva__tpool_lock(p);
  err = uva__tpool_fill(p);
  uva__tpool_unlock(p);
  if (err == 0) {
    handles_init(p);
    return 0;
  }
  p->lifeline.data = NULL; /* its close callback comes within the abort */
  uva__port_abort(&p->lifeline);
  uva_port_close(&p->lifeline_peer);
  return err;
}

/* ---- a pool without a loop: the dispatcher ------------------------------------------------------- */

static void on_doorbell(uva_port_t *port, uva_msg_t *msg) {
  uva__tpool_t *p = port->data;

  uva__tpool_lock(p);
  p->doorbell = msg;
  uva__tpool_unlock(p);
  owner_turn(p);
}

static int dispatcher_main(uva_self_t *self) {
  uva__tpool_t *p = uva_self_arg(self);
  uva_port_t *port = uva_self_port(self);
  int err;

  p->loop = uva_self_loop(self);
  p->owner = uv_thread_self();
  p->dispatcher_self = self;
  port->data = p;
  err = uva_port_start(port, p->loop, on_doorbell, NULL);
  if (err == 0)
    err = owner_start(p);
  p->start_err = err;
  /* The parent waits for this one message: the started signal (or the port's close, if it cannot go). */
  if (uva_port_post(port, p->started) == 0)
    p->started = NULL;
  if (err != 0) {
    uva_port_close(port);
    return 1;
  }
  return 0;
}

static int start_dispatcher(uva__tpool_t *p) {
  uva_actor_options_t options;
  uva_msg_t *msg;
  int err;

  p->loopless = 1;
  err = uva_msg_new(&p->doorbell);
  if (err == 0)
    err = uva_msg_new(&p->started);
  if (err == 0) {
    msgpack_pack_nil(uva_msg_packer(p->doorbell));
    msgpack_pack_nil(uva_msg_packer(p->started));
    memset(&options, 0, sizeof(options));
    options.name = p->name;
    options.stack_size = 256 * 1024;
    options.arg = p;
    err = uva_actor_spawn(&p->dispatcher, NULL, dispatcher_main, &options);
  }
  if (err != 0) {
    uva_msg_free(p->started);
    return err;
  }
  /* The pool is held in its stead (uva_tpool_init()): the end of the actor that made it reaps the pool. */
  uva__hold_release(&p->dispatcher.hold_);
  err = uva_port_receive_wait(uva_actor_port(&p->dispatcher), &msg, UVA_WAIT_FOREVER);
  if (err == 0) {
    uva_msg_free(msg);
    err = p->start_err;
  } else {
    /* The dispatcher ended before it could say anything: its thread could not make its loop. */
    err = p->start_err != 0 ? p->start_err : UV_ENOMEM;
  }
  if (err != 0) {
    uva_port_close(uva_actor_port(&p->dispatcher));
    uva_actor_join(&p->dispatcher, UVA_WAIT_FOREVER, NULL);
    uva_msg_free(p->started);
  }
  return err;
}

int uva_tpool_init(uva_tpool_t *pool, uv_loop_t *loop, const uva_tpool_options_t *options) {
  static const uva_tpool_options_t defaults;
  uva__tpool_t *p;
  int err;

  if (options == NULL)
    options = &defaults;
  if (pool == NULL || !options_valid(options))
    return UV_EINVAL;
  p = uva__calloc(1, sizeof(*p));
  if (p == NULL)
    return UV_ENOMEM;
  apply_options(p, options);
  p->handle = pool;
  p->generation = uva__fork_generation;
  err = uv_mutex_init(&p->lock);
  if (err != 0) {
    free(p);
    return err;
  }
  err = uv_cond_init(&p->cond);
  if (err != 0) {
    uv_mutex_destroy(&p->lock);
    free(p);
    return err;
  }
  err = uva__tpool_stats_init(p);
  if (err != 0) {
    pool_free(p);
    return err;
  }
  if (loop == NULL) {
    err = start_dispatcher(p);
  } else {
    p->loop = loop;
    p->owner = uv_thread_self();
    err = owner_start(p);
  }
  if (err != 0) {
    pool_free(p);
    return err;
  }
  pool->impl_ = p;
  pool->loop = loop;
  pool->type = UVA_TPOOL;
  pool->owner_ = p->owner;
  pool->inflight_ = 0;
  pool->flags_ = loop == NULL ? TPOOL_HANDLE_LOOPLESS : 0;
  uva__guard_publish(&pool->state_, TPOOL_OPEN);
  /* A pool without a loop made by an actor is reaped by that actor's end if it was not joined before. */
  if (loop == NULL)
    uva__hold(&p->hold, pool);
  return 0;
}

int uva_tpool_close(uva_tpool_t *pool, unsigned int flags, uva_tpool_close_cb close_cb) {
  uva__tpool_t *p;
  int err;

  if (pool != NULL && (flags & ~UVA_TPOOL_CLOSE_CANCEL) != 0)
    return UV_EINVAL;
  err = uva__tpool_enter(pool, &p);
  if (err != 0)
    return err;
  if (close_cb != NULL && p->loopless) {
    uva__tpool_leave(pool);
    return UV_EINVAL;
  }
  err = close_pool(p, flags, close_cb);
  uva__tpool_leave(pool);
  return err;
}

/* The pool's threads are joined: every call leaves, then its state goes. Inside the guard, joining set. */
static void joined(uva_tpool_t *pool, uva__tpool_t *p) {
  uva__tpool_lock(p);
  p->joined = 1;
  uv_cond_broadcast(&p->cond); /* a reap waiting for this join leaves the pool to it */
  uva__tpool_unlock(p);
  uva__tpool_leave(pool);
  uva__hold_release(&p->hold);
  uva__guard_retire(&pool->state_, TPOOL_CLOSED, &pool->inflight_);
  pool->impl_ = NULL;
  pool_free(p);
}

int uva_tpool_join(uva_tpool_t *pool, int64_t timeout_ms) {
  uva__tpool_t *p;
  int err;

  if (pool == NULL || !(pool->flags_ & TPOOL_HANDLE_LOOPLESS))
    return UV_EINVAL;
  /* Inside the guard: the joiner that frees the pool's state waits for every other call to leave first. */
  err = uva__tpool_enter(pool, &p);
  if (err != 0)
    return err == UV_EBADF ? UV_EALREADY : err;
  uva__tpool_lock(p);
  /* On the pool's own threads the join would wait for itself; one joiner at a time, the others are told. */
  err = !p->closing                                         ? UV_EINVAL
        : uva__tpool_is_owner(p) || uva__tpool_is_worker(p) ? UV_EPERM
        : p->joining || p->uncollected != 0                 ? UV_EBUSY
                                                            : 0;
  if (err == 0)
    p->joining = 1;
  uva__tpool_unlock(p);
  if (err == 0) {
    err = uva_actor_join(&p->dispatcher, timeout_ms, NULL);
    if (err == 0) {
      joined(pool, p);
      return 0;
    }
    uva__tpool_lock(p);
    p->joining = 0;
    uv_cond_broadcast(&p->cond); /* a reap waiting for this join joins the pool itself */
    uva__tpool_unlock(p);
  }
  uva__tpool_leave(pool);
  return err;
}

/* The actor that made a pool without a loop ends and did not join it (channel/holder.h), on its thread,
 * with waits of its own: the pool closes cancelling (every task not completed completes with UV_ECANCELED,
 * its callback on the dispatcher), its threads are joined, the tasks no uva_tpool_wait() collected are
 * collected (their outcome freed), and its state is freed, as uva_tpool_join() would. */
void uva__tpool_reap(uva_tpool_t *pool) {
  uva__tpool_t *p;

  if (uva__tpool_enter(pool, &p) != 0)
    return; /* joined already */
  uva__tpool_lock(p);
  (void)close_locked(p, UVA_TPOOL_CLOSE_CANCEL, NULL); /* UV_EALREADY: cancelling already */
  /* Another thread joining it now frees it, or gives up (its timeout): then the reap joins it. */
  while (p->joining && !p->joined)
    uv_cond_wait(&p->cond, &p->lock);
  if (p->joined) {
    uva__tpool_unlock(p);
    uva__tpool_leave(pool);
    return;
  }
  p->joining = 1;
  uva__tpool_unlock(p);
  (void)uva_actor_join(&p->dispatcher, UVA_WAIT_FOREVER, NULL);
  /* Every task is completed now; a thread in uva_tpool_wait() collects its own, inside the guard. */
  uva__tpool_lock(p);
  uva__tpool_collect_all(p);
  uva__tpool_unlock(p);
  joined(pool, p);
}
