/* The task pool's queue: submit, cancel, wait, hand-off to workers, completions and run timeouts.
 *
 * The queue is one FIFO per priority, of the callers' own uva_task_t (no allocation per task), with a bit
 * per non-empty level: the highest waiting task is found in one instruction. Workers take from it under the
 * pool's lock when they have a free slot, so the task taken is the highest at that moment. */
#include "tpool.h"

static const char text_cancelled[] = "the task was cancelled";
static const char text_timed_out[] = "the task ran longer than its timeout";

static unsigned int task_state(const uva_task_t *task) {
  return __atomic_load_n(&task->state_, __ATOMIC_ACQUIRE);
}

static void set_task_state(uva_task_t *task, unsigned int state) {
  __atomic_store_n(&task->state_, state, __ATOMIC_RELEASE);
}

static void enqueue(uva__tpool_t *p, uva_task_t *task) {
  int level = task->priority_ - UVA_TPOOL_PRIORITY_MIN;

  task->next_ = NULL;
  task->prev_ = p->tail[level];
  if (p->tail[level] != NULL)
    p->tail[level]->next_ = task;
  else
    p->head[level] = task;
  p->tail[level] = task;
  p->nonempty |= 1u << level;
  p->queued++;
  set_task_state(task, TASK_QUEUED);
}

static void unlink_task(uva__tpool_t *p, uva_task_t *task) {
  int level = task->priority_ - UVA_TPOOL_PRIORITY_MIN;

  if (task->prev_ != NULL)
    task->prev_->next_ = task->next_;
  else
    p->head[level] = task->next_;
  if (task->next_ != NULL)
    task->next_->prev_ = task->prev_;
  else
    p->tail[level] = task->prev_;
  if (p->head[level] == NULL)
    p->nonempty &= ~(1u << level);
  p->queued--;
}

static uva_task_t *pop_highest(uva__tpool_t *p) {
  uva_task_t *task = p->head[31 - __builtin_clz(p->nonempty)];

  unlink_task(p, task);
  return task;
}

/* A task without a callback completed: it waits on due_waits for uva_tpool_wait() to collect it. */
static void link_due_wait(uva__tpool_t *p, uva_task_t *task) {
  task->prev_ = NULL;
  task->next_ = p->due_waits;
  if (p->due_waits != NULL)
    p->due_waits->prev_ = task;
  p->due_waits = task;
}

static void unlink_due_wait(uva__tpool_t *p, uva_task_t *task) {
  if (task->prev_ != NULL)
    task->prev_->next_ = task->next_;
  else
    p->due_waits = task->next_;
  if (task->next_ != NULL)
    task->next_->prev_ = task->prev_;
}

/* Hands a completed task's outcome over (what is not taken is freed): the task is the caller's again. */
static void collect(uva__tpool_t *p, uva_task_t *task, int *status, uva_msg_t **result, char **text) {
  if (status != NULL)
    *status = task->status_;
  if (result != NULL)
    *result = task->msg_;
  else
    uva_msg_free(task->msg_);
  if (text != NULL)
    *text = task->text_ != NULL ? uva__strndup(task->text_, strlen(task->text_)) : NULL;
  if (task->flags_ & TASK_TEXT_OWNED)
    free(task->text_);
  task->msg_ = NULL;
  task->text_ = NULL;
  unlink_due_wait(p, task);
  set_task_state(task, TASK_DONE);
  p->uncollected--;
}

void uva__tpool_collect_all(uva__tpool_t *p) {
  uva_task_t *task;
  uva_task_t *next;

  for (task = p->due_waits; task != NULL; task = next) {
    next = task->next_;
    if (!(task->flags_ & TASK_WAITED))
      collect(p, task, NULL, NULL, NULL);
  }
}

void uva__tpool_complete(uva__tpool_t *p, uva_task_t *task, int status, uva_msg_t *result, char *text,
                         int owned) {
  task->status_ = status;
  task->msg_ = result;
  task->text_ = text;
  task->flags_ = (task->flags_ & TASK_WAITED) | (owned && text != NULL ? TASK_TEXT_OWNED : 0);
  task->ctx_ = NULL;
  p->inflight--;
  uva__tpool_count(p, status);
  if (task->cb_ == NULL) {
    link_due_wait(p, task);
    set_task_state(task, TASK_DUE);
    uv_cond_broadcast(&p->cond);
    return;
  }
  task->next_ = NULL;
  if (p->due_tail != NULL)
    p->due_tail->next_ = task;
  else
    p->due_head = task;
  p->due_tail = task;
  set_task_state(task, TASK_DUE);
}

void uva__tpool_abandon(uva__tpool_t *p, uva_task_t *task, int status) {
  uva_tpool_ctx_t *ctx = task->ctx_;

  ctx->task = NULL;
  atomic_store_explicit(&ctx->cancelled, 1, memory_order_relaxed);
  uva__tpool_complete(p, task, status, NULL,
                      (char *)(status == UV_ETIMEDOUT ? text_timed_out : text_cancelled), 0);
}

/* A task that leaves the queue without running: its argument goes with it. */
static void drop_queued(uva__tpool_t *p, uva_task_t *task, int status, const char *text) {
  uva_msg_free(task->msg_);
  uva__tpool_complete(p, task, status, NULL, (char *)text, 0);
}

void uva__tpool_fail_queued(uva__tpool_t *p, int status, const char *text) {
  while (p->queued > 0)
    drop_queued(p, pop_highest(p), status, text);
}

uva_tpool_ctx_t *uva__tpool_take(uva__tpool_t *p, uva__tpool_worker_t *w) {
  uva_task_t *task = pop_highest(p);
  uva_tpool_ctx_t *ctx = w->free_ctx;

  w->free_ctx = ctx->next;
  ctx->state = CTX_TAKEN;
  ctx->task = task;
  ctx->fn = task->fn_;
  ctx->arg = task->msg_;
  ctx->submit_ns = task->submit_ns_;
  ctx->timeout_ns = task->timeout_ms_ * 1000000;
  ctx->timing = ctx->timeout_ns != 0 || (p->flags & UVA_TPOOL_STATS) != 0;
  atomic_store_explicit(&ctx->cancelled, 0, memory_order_relaxed);
  atomic_store_explicit(&ctx->start_ns, 0, memory_order_relaxed);
  ctx->status = 0;
  ctx->result = NULL;
  ctx->text = NULL;
  ctx->text_static = 1;
  ctx->ran = 0;
  ctx->ended_worker = 0;
  task->msg_ = NULL;
  task->ctx_ = ctx;
  set_task_state(task, TASK_RUNNING);
  w->unfinished++;
  w->held++;
  p->running++;
  return ctx;
}

void uva__tpool_dispatch(uva__tpool_t *p) {
  uva__tpool_worker_t *w;
  size_t wanted = p->queued;
  size_t room;

  if (p->closing && (p->close_flags & UVA_TPOOL_CLOSE_CANCEL))
    return;
  for (w = p->workers; w != NULL && wanted > 0; w = w->next) {
    if (w->state != WORKER_RUNNING || !uva__tpool_can_take(w))
      continue;
    room = p->per_thread - w->unfinished;
    wanted = wanted > room ? wanted - room : 0;
    if (!w->asleep)
      continue; /* it takes what it can by itself */
    w->asleep = 0;
    if (w->wake != NULL) {
      uva_msg_t *wake = w->wake;
      w->wake = NULL;
      if (uva_port_post(uva_actor_port(&w->actor), wake) != 0)
        w->wake = wake; /* it is ending */
    }
  }
  /* A new worker takes tasks as soon as it runs; after a failed start, none is tried before a submit. */
  while (wanted > 0 && p->nworkers < p->max_threads && p->spawn_err == 0 && uva__tpool_is_owner(p) &&
         uva__tpool_spawn(p) == 0)
    wanted = wanted > p->per_thread ? wanted - p->per_thread : 0;
}

void uva__tpool_starve(uva__tpool_t *p) {
  if (p->queued > 0 && p->nworkers == 0)
    uva__tpool_fail_queued(p, p->spawn_err != 0 ? p->spawn_err : UV_EAGAIN,
                           "no worker thread could be started");
}

/* ---- the public calls ---------------------------------------------------------------------------- */

static int task_options_valid(const uva_task_options_t *options) {
  size_t i;

  if (options->priority < UVA_TPOOL_PRIORITY_MIN || options->priority > UVA_TPOOL_PRIORITY_MAX)
    return 0;
  for (i = 0; i < sizeof(options->reserved) / sizeof(options->reserved[0]); i++)
    if (options->reserved[i] != NULL)
      return 0;
  return 1;
}

static int task_in_flight(unsigned int state) {
  return state == TASK_QUEUED || state == TASK_RUNNING || state == TASK_DUE;
}

int uva_tpool_submit(uva_tpool_t *pool, uva_task_t *task, uva_tpool_fn fn, uva_msg_t *arg,
                     const uva_task_options_t *options, uva_task_cb done_cb) {
  static const uva_task_options_t defaults;
  uva__tpool_t *p;
  int err;

  if (options == NULL)
    options = &defaults;
  if (task == NULL || fn == NULL || !task_options_valid(options))
    return UV_EINVAL;
  err = uva__tpool_enter(pool, &p);
  if (err != 0)
    return err;
  if (done_cb == NULL && !p->loopless)
    err = UV_EINVAL;
  else if (arg != NULL)
    err = uva_msg_validate(arg, NULL);
  if (err != 0)
    goto out;
  uva__tpool_lock(p);
  if (p->closing) {
    err = UV_EPIPE;
  } else if (p->max_queue != 0 && p->queued >= p->max_queue) {
    err = UV_EAGAIN;
  } else {
    task->pool_ = pool;
    task->ctx_ = NULL;
    task->fn_ = fn;
    task->msg_ = arg;
    task->cb_ = done_cb;
    task->text_ = NULL;
    task->timeout_ms_ = options->timeout_ms <= TPOOL_TIMEOUT_MS_MAX ? options->timeout_ms : 0;
    task->submit_ns_ = (p->flags & UVA_TPOOL_STATS) ? uv_hrtime() : 0;
    task->status_ = 0;
    task->priority_ = options->priority;
    task->flags_ = 0;
    enqueue(p, task);
    p->inflight++;
    p->spawn_err = 0; /* new demand: a worker start may be tried again */
    uva__tpool_dispatch(p);
    /* Only the owner starts workers. On it, a task no worker could be started for fails on the next turn,
     * with the start's error, as when a start fails later: the submit itself succeeded. */
    if (uva__tpool_is_owner(p) ? p->nworkers == 0 : p->nworkers < p->max_threads)
      uva__tpool_poke(p);
    uva__tpool_settle(p);
    p->submitted++;
    if (done_cb == NULL)
      p->uncollected++;
  }
  uva__tpool_unlock(p);
out:
  uva__tpool_leave(pool);
  return err;
}

/* Enters a call on a submitted task's pool, as uva__tpool_enter() does: a pool gone since (joined, or reaped
 * by the end of the actor that made it) collected its tasks, so the task is done. */
static int task_enter(uva_tpool_t *pool, uva__tpool_t **pp) {
  int err = uva__tpool_enter(pool, pp);

  return err == UV_EBADF ? UV_EALREADY : err;
}

int uva_tpool_cancel(uva_task_t *task) {
  uva_tpool_t *pool;
  unsigned int state;
  uva__tpool_t *p;
  int err = 0;

  if (task == NULL)
    return UV_EINVAL;
  state = task_state(task);
  if (state == TASK_DONE)
    return UV_EALREADY;
  if (!task_in_flight(state))
    return UV_EINVAL;
  pool = task->pool_;
  err = task_enter(pool, &p);
  if (err != 0)
    return err;
  uva__tpool_lock(p);
  state = task_state(task);
  if (state == TASK_QUEUED) {
    unlink_task(p, task);
    drop_queued(p, task, UV_ECANCELED, text_cancelled);
    uva__tpool_poke(p);
  } else if (state == TASK_RUNNING) {
    uva__tpool_abandon(p, task, UV_ECANCELED);
    uva__tpool_poke(p);
  } else {
    err = UV_EALREADY;
  }
  uva__tpool_unlock(p);
  uva__tpool_leave(pool);
  return err;
}

int uva_tpool_wait(uva_task_t *task, int64_t timeout_ms, int *status, uva_msg_t **result, char **text) {
  uva_tpool_t *pool;
  unsigned int state;
  uva__tpool_t *p;
  uva__wait_t wait;
  int err = 0;

  if (task == NULL)
    return UV_EINVAL;
  state = task_state(task);
  if (state == TASK_DONE)
    return UV_EALREADY;
  if (!task_in_flight(state) || task->cb_ != NULL || !(task->pool_->flags_ & TPOOL_HANDLE_LOOPLESS))
    return UV_EINVAL;
  /* Inside the pool's guard: a join or a reap that frees the pool waits for the wait to leave first. */
  pool = task->pool_;
  err = task_enter(pool, &p);
  if (err != 0)
    return err;
  /* The dispatcher completes the tasks: it would wait for itself. */
  if (timeout_ms != 0 && uva__tpool_is_owner(p)) {
    uva__tpool_leave(pool);
    return UV_EPERM;
  }
  /* The library's one wait: its deadline saturates, and an ending actor's thread is told UV_ECANCELED. */
  if (timeout_ms != 0)
    uva__wait_begin(&wait, &p->lock, &p->cond, timeout_ms);
  uva__tpool_lock(p);
  if (task_state(task) == TASK_DONE) {
    err = UV_EALREADY; /* another thread collected it meanwhile */
  } else if (task->flags_ & TASK_WAITED) {
    /* Another thread waits for it: one collects, the other is told, as with uva_actor_join(). */
    err = UV_EBUSY;
  } else {
    task->flags_ |= TASK_WAITED;
    while (task_state(task) != TASK_DUE && err == 0)
      err = timeout_ms == 0 ? uva__wait_refused() : uva__wait(&wait);
    task->flags_ &= ~TASK_WAITED;
  }
  if (err == 0)
    collect(p, task, status, result, text);
  uva__tpool_unlock(p);
  if (timeout_ms != 0)
    uva__wait_end(&wait);
  uva__tpool_leave(pool);
  return err;
}

int uva_tpool_on_room(uva_tpool_t *pool, uva_tpool_room_cb room_cb) {
  uva__tpool_t *p;
  int err;

  err = uva__tpool_enter(pool, &p);
  if (err != 0)
    return err;
  if (room_cb == NULL) {
    err = UV_EINVAL;
  } else {
    uva__tpool_lock(p);
    if (p->closing) {
      err = UV_EPIPE;
    } else {
      p->room_cb = room_cb;
      uva__tpool_poke(p);
    }
    uva__tpool_unlock(p);
  }
  uva__tpool_leave(pool);
  return err;
}

/* ---- run timeouts -------------------------------------------------------------------------------- */

/* One timer for the pool, set for the earliest moment a timeout may expire. A task's clock starts when its
 * function starts, which only the worker knows: it notes the moment in the slot, and, when the timer is
 * not set early enough, asks the owner to set it (timeouts_wanted, with its bell). */
void uva__tpool_arm_timeouts(uva__tpool_t *p, uint64_t due_ns) {
  uint64_t now;

  if (p->timeouts_due != 0 && p->timeouts_due <= due_ns)
    return;
  p->timeouts_due = due_ns;
  now = uv_hrtime();
  uv_timer_start(&p->timeouts, uva__tpool_on_timeouts, due_ns > now ? (due_ns - now + 999999) / 1000000 : 0,
                 0);
}

void uva__tpool_on_timeouts(uv_timer_t *timer) {
  uva__tpool_t *p = timer->data;
  uva__tpool_worker_t *w;
  uva_tpool_ctx_t *ctx;
  uint64_t next = 0;
  uint64_t start;
  uint64_t due;
  uint64_t now;
  unsigned int i;

  uva__tpool_lock(p);
  p->timeouts_due = 0;
  now = uv_hrtime();
  for (w = p->workers; w != NULL; w = w->next) {
    for (i = 0; i < w->nctx; i++) {
      ctx = &w->ctx[i];
      if (ctx->state != CTX_TAKEN || ctx->task == NULL || ctx->timeout_ns == 0)
        continue;
      start = atomic_load_explicit(&ctx->start_ns, memory_order_relaxed);
      due = (start != 0 ? start : now) + ctx->timeout_ns;
      if (start != 0 && due <= now)
        uva__tpool_abandon(p, ctx->task, UV_ETIMEDOUT);
      else if (next == 0 || due < next)
        next = due;
    }
  }
  if (next != 0)
    uva__tpool_arm_timeouts(p, next);
  uva__tpool_unlock(p);
  uva__tpool_flush(p);
}
