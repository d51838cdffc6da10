/* The task pool's worker: an actor that takes tasks from its pool's queue and runs them.
 *
 * pump() takes the highest queued task into a free slot, runs it, and goes on, up to TPOOL_BURST tasks per
 * turn of its loop (then it yields, so its own handles and a stop get their turn). When there is nothing
 * it may take it marks itself asleep, under the pool's lock, and the pool posts its wake message when tasks
 * come. A finished slot goes on the done list, and the bell goes to the pool if it is not on its way
 * already. When the port closes (the pool retires this worker, or it is ending), thread_exit runs and the
 * worker ends, whatever handles its tasks left open. */
#include "tpool.h"

static const char text_reserved[] = "the task function returned a reserved positive value";
static const char text_malformed[] = "the task's result message is malformed";
static const char text_hook[] = "the pool's thread_init hook failed";
static const char text_port[] = "the worker could not start its port";

static void set_text(uva_tpool_ctx_t *ctx, char *text, int is_static) {
  if (!ctx->text_static)
    free(ctx->text);
  ctx->text = text;
  ctx->text_static = is_static;
}

/* Rings the bell, taken from the worker under the lock; NULL: it is on its way already. */
static void ring(uva__tpool_worker_t *w, uva_msg_t *bell) {
  if (bell != NULL && uva_port_post(uva_self_port(w->self), bell) != 0)
    uva_msg_free(bell); /* the pool's side is gone: the worker is being torn down */
}

/* The task is done on this side: its outcome goes into the slot, the slot onto the done list. */
static void finish(uva_tpool_ctx_t *ctx, int status, uva_msg_t *result) {
  uva__tpool_worker_t *w = ctx->worker;
  uva__tpool_t *p = w->pool;
  uva_msg_t *arg = ctx->arg;
  uva_msg_t *bell;
  int err;

  if (ctx->timing)
    ctx->end_ns = uv_hrtime();
  if (status == 0 && result != NULL && (err = uva_msg_validate(result, NULL)) != 0) {
    status = err;
    set_text(ctx, (char *)text_malformed, 1);
  }
  if (status != 0 && result != NULL) {
    if (result != arg)
      uva_msg_free(result);
    result = NULL;
  }
  if (status == 0)
    set_text(ctx, NULL, 1);
  if (arg != result)
    uva_msg_free(arg);
  ctx->arg = NULL;
  ctx->result = result;
  ctx->status = status;
  ctx->pending = 0;
  ctx->ended_worker = uva_self_should_stop(w->self);
  uva__tpool_lock(p);
  ctx->state = CTX_DONE;
  ctx->next = NULL;
  if (w->done_tail != NULL)
    w->done_tail->next = ctx;
  else
    w->done_head = ctx;
  w->done_tail = ctx;
  w->unfinished--;
  p->running--;
  bell = w->bell;
  w->bell = NULL;
  uva__tpool_unlock(p);
  ring(w, bell);
}

static void run(uva__tpool_worker_t *w, uva_tpool_ctx_t *ctx) {
  int stats = (w->pool->flags & UVA_TPOOL_STATS) != 0;
  uva_msg_t *result = NULL;
  uint64_t start = 0;
  int status;

  if (atomic_load_explicit(&ctx->cancelled, memory_order_relaxed)) {
    finish(ctx, UV_ECANCELED, NULL); /* cancelled before it started: it never runs */
    return;
  }
  if (ctx->timing) {
    start = uv_hrtime();
    atomic_store_explicit(&ctx->start_ns, start, memory_order_relaxed);
    if (stats)
      atomic_store_explicit(&w->running_since, start, memory_order_relaxed);
  }
  ctx->ran = 1;
  status = ctx->fn(ctx, ctx->arg, &result);
  if (stats) {
    atomic_store_explicit(&w->running_since, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->busy_ns, uv_hrtime() - start, memory_order_relaxed);
  }
  if (status == UVA_TPOOL_PENDING) {
    if (result != ctx->arg)
      uva_msg_free(result);
    ctx->pending = 1;
    if (uva_self_should_stop(w->self))
      finish(ctx, UV_ECONNRESET, NULL); /* its loop stops: it can never complete */
    return;
  }
  if (status > 0) {
    status = UV_EINVAL;
    set_text(ctx, (char *)text_reserved, 1);
  }
  finish(ctx, status, result);
}

static void on_more(uv_idle_t *idle);

/* Takes and runs tasks while it may. */
static void pump(uva__tpool_worker_t *w) {
  uva__tpool_t *p = w->pool;
  uva_tpool_ctx_t *ctx;
  uva_msg_t *bell;
  uint64_t due;
  int n;

  for (n = 0; n < TPOOL_BURST; n++) {
    if (uva_self_should_stop(w->self))
      return;
    uva__tpool_lock(p);
    if (w->state != WORKER_RUNNING || p->queued == 0 || !uva__tpool_can_take(w) ||
        (p->closing && (p->close_flags & UVA_TPOOL_CLOSE_CANCEL))) {
      w->asleep = 1;
      uva__tpool_unlock(p);
      return;
    }
    ctx = uva__tpool_take(p, w);
    bell = NULL;
    if (ctx->timeout_ns != 0) {
      /* The owner's timer must fire by the time this one may expire. */
      due = uv_hrtime() + ctx->timeout_ns;
      if ((p->timeouts_due == 0 || p->timeouts_due > due) &&
          (p->timeouts_wanted == 0 || p->timeouts_wanted > due)) {
        p->timeouts_wanted = due;
        bell = w->bell;
        w->bell = NULL;
      }
    }
    uva__tpool_unlock(p);
    ring(w, bell);
    run(w, ctx);
  }
  uv_idle_start(&w->more, on_more);
}

static void on_more(uv_idle_t *idle) {
  uva__tpool_worker_t *w = idle->data;

  uv_idle_stop(idle);
  pump(w);
}

/* The pool's wake message: it goes back at rest, and the worker takes tasks. */
static void on_wake(uva_port_t *port, uva_msg_t *msg) {
  uva__tpool_worker_t *w = port->data;
  uva__tpool_t *p = w->pool;

  uva__tpool_lock(p);
  if (w->wake == NULL)
    w->wake = msg;
  else
    uva_msg_free(msg);
  uva__tpool_unlock(p);
  pump(w);
}

/* The port closed: the pool retired this worker, or it is ending. Tasks still pending are dropped (the pool
 * completes them when the worker has ended), thread_exit runs, and the loop stops. */
static void on_port_close(uva_port_t *port) {
  uva__tpool_worker_t *w = port->data;
  uva__tpool_t *p = w->pool;
  uva_tpool_ctx_t *ctx;
  unsigned int i;

  for (i = 0; i < w->nctx; i++) {
    ctx = &w->ctx[i];
    if (!ctx->pending)
      continue;
    ctx->pending = 0;
    uva_msg_free(ctx->arg);
    ctx->arg = NULL;
    set_text(ctx, NULL, 1);
  }
  if (p->thread_exit != NULL)
    p->thread_exit(w->loop, p->arg, w->thread_state);
  uva_self_exit(w->self, 0);
}

static int start_failed(uva_self_t *self, uva__tpool_worker_t *w, int err, const char *what) {
  w->init_err = err < 0 ? err : UV_EINVAL;
  w->init_what = what;
  uva_self_fail(self, 1, what);
  return 1;
}

int uva__tpool_worker_main(uva_self_t *self) {
  uva__tpool_worker_t *w = uva_self_arg(self);
  uva__tpool_t *p = w->pool;
  uva_port_t *port = uva_self_port(self);
  int err = 0;

  w->self = self;
  w->loop = uva_self_loop(self);
  w->thread = uv_thread_self();
  uv_idle_init(w->loop, &w->more);
  w->more.data = w;
  if (p->thread_init != NULL) {
    err = p->thread_init(w->loop, p->arg, &w->thread_state);
    if (err != 0)
      return start_failed(self, w, err, text_hook);
  }
  port->data = w;
  err = uva_port_start(port, w->loop, on_wake, on_port_close);
  if (err != 0) {
    if (p->thread_exit != NULL)
      p->thread_exit(w->loop, p->arg, w->thread_state);
    return start_failed(self, w, err, text_port);
  }
  w->ready = 1;
  pump(w);
  return 0;
}

int uva__tpool_is_worker(const uva__tpool_t *p) {
  uva_self_t *self = uva__self_current();

  return self != NULL && self->main_cb == uva__tpool_worker_main &&
         ((const uva__tpool_worker_t *)self->arg)->pool == p;
}

/* ---- what a task function may ask ---------------------------------------------------------------- */

int uva_tpool_ctx_cancelled(const uva_tpool_ctx_t *ctx) {
  return ctx != NULL && atomic_load_explicit(&ctx->cancelled, memory_order_relaxed);
}

uv_loop_t *uva_tpool_ctx_loop(const uva_tpool_ctx_t *ctx) {
  return ctx == NULL ? NULL : ctx->worker->loop;
}

void *uva_tpool_ctx_state(const uva_tpool_ctx_t *ctx) {
  return ctx == NULL ? NULL : ctx->worker->thread_state;
}

uva_self_t *uva_tpool_ctx_self(const uva_tpool_ctx_t *ctx) {
  return ctx == NULL ? NULL : ctx->worker->self;
}

int uva_tpool_ctx_fail(uva_tpool_ctx_t *ctx, int status, const char *text) {
  char *copy;

  if (ctx == NULL || text == NULL || status >= 0)
    return UV_EINVAL;
  copy = uva__strndup(text, strlen(text));
  set_text(ctx, copy, copy == NULL);
  return status;
}

int uva_tpool_ctx_done(uva_tpool_ctx_t *ctx, int status, uva_msg_t *result) {
  uva__tpool_worker_t *w;
  uv_thread_t self;

  if (ctx == NULL || status > 0)
    return UV_EINVAL;
  w = ctx->worker;
  self = uv_thread_self();
  if (!uv_thread_equal(&self, &w->thread))
    return UV_EPERM;
  if (!ctx->pending)
    return UV_EINVAL;
  finish(ctx, status, result);
  uv_idle_start(&w->more, on_more); /* a slot under per_thread is free again: take more on the next turn */
  return 0;
}
