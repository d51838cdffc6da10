/* The task pool's worker: an actor whose port brings carriers, each naming a slot that holds a task.
 *
 * The worker runs the slot's function, fills in the outcome and posts the carrier back. Everything in the
 * slot was written by the pool before the carrier was posted, and everything the worker writes is read
 * after the carrier is back: the port's lock orders both. When the port closes (the pool retires the worker,
 * or it is ending), thread_exit runs and the worker ends, whatever handles its tasks left open. */
#include "tpool.h"

static const char text_reserved[] = "the task function returned a reserved positive value";
static const char text_malformed[] = "the task's result message is malformed";

uva_tpool_ctx_t *uva__tpool_ctx_of(uva__tpool_worker_t *w, uva_msg_t *carrier) {
  msgpack_object obj;

  if (uva_msg_object(carrier, &obj) != 0 || obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER || obj.via.u64 >= w->nctx)
    return NULL;
  return &w->ctx[obj.via.u64];
}

static void set_text(uva_tpool_ctx_t *ctx, char *text, int is_static) {
  if (!ctx->text_static)
    free(ctx->text);
  ctx->text = text;
  ctx->text_static = is_static;
}

/* The task is done on this side: its outcome goes into the slot and the carrier goes back. */
static void finish(uva_tpool_ctx_t *ctx, int status, uva_msg_t *result) {
  uva__tpool_worker_t *w = ctx->worker;
  uva_msg_t *arg = ctx->arg;
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
  if (uva_port_post(uva_self_port(w->self), ctx->carrier) != 0) {
    /* The pool's side is gone (the worker is being torn down): nobody will read the slot. */
    uva_msg_free(ctx->result);
    ctx->result = NULL;
    set_text(ctx, NULL, 1);
    uva_msg_free(ctx->carrier);
    ctx->carrier = NULL;
  }
}

static void on_task(uva_port_t *port, uva_msg_t *carrier) {
  uva__tpool_worker_t *w = port->data;
  int stats = (w->pool->flags & UVA_TPOOL_STATS) != 0;
  uva_tpool_ctx_t *ctx = uva__tpool_ctx_of(w, carrier);
  uva_msg_t *result = NULL;
  uint64_t start = 0;
  int status;

  if (ctx == NULL || ctx->carrier != carrier) {
    uva_msg_free(carrier);
    return;
  }
  if (uva_self_should_stop(w->self)) {
    ctx->held = 1; /* the worker is ending: the pool gives the task to another */
    return;
  }
  if (atomic_load_explicit(&ctx->cancelled, memory_order_relaxed)) {
    finish(ctx, UV_ECANCELED, NULL); /* cancelled on its way here: it never runs */
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

/* The port closed: the pool retired this worker, or it is ending. Tasks still pending are dropped, and
 * tasks that came while it was stopping are left untouched (the pool completes or requeues both when the
 * worker has ended), thread_exit runs, and the loop stops. */
static void on_port_close(uva_port_t *port) {
  uva__tpool_worker_t *w = port->data;
  uva__tpool_t *p = w->pool;
  uva_tpool_ctx_t *ctx;
  unsigned int i;

  for (i = 0; i < w->nctx; i++) {
    ctx = &w->ctx[i];
    if (ctx->pending) {
      uva_msg_free(ctx->arg);
      ctx->arg = NULL;
      set_text(ctx, NULL, 1);
    } else if (!ctx->held) {
      continue;
    }
    ctx->pending = 0;
    ctx->held = 0;
    uva_msg_free(ctx->carrier);
    ctx->carrier = NULL;
  }
  if (p->thread_exit != NULL)
    p->thread_exit(w->loop, p->arg, w->thread_state);
  uva_self_exit(w->self, 0);
}

int uva__tpool_worker_main(uva_self_t *self) {
  uva__tpool_worker_t *w = uva_self_arg(self);
  uva__tpool_t *p = w->pool;
  uva_port_t *port = uva_self_port(self);
  int err = 0;

  w->self = self;
  w->loop = uva_self_loop(self);
  w->thread = uv_thread_self();
  if (p->thread_init != NULL) {
    err = p->thread_init(w->loop, p->arg, &w->thread_state);
    if (err != 0) {
      w->init_err = err < 0 ? err : UV_EINVAL;
      uva_self_fail(self, 1, "the pool's thread_init hook failed");
      return 1;
    }
  }
  port->data = w;
  err = uva_port_start(port, w->loop, on_task, on_port_close);
  if (err != 0) {
    w->init_err = err;
    if (p->thread_exit != NULL)
      p->thread_exit(w->loop, p->arg, w->thread_state);
    uva_self_fail(self, 1, uva_strerror(err));
    return 1;
  }
  w->ready = 1;
  return 0;
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
  uv_thread_t self;

  if (ctx == NULL || status > 0)
    return UV_EINVAL;
  self = uv_thread_self();
  if (!uv_thread_equal(&self, &ctx->worker->thread))
    return UV_EPERM;
  if (!ctx->pending)
    return UV_EINVAL;
  finish(ctx, status, result);
  return 0;
}
