/* The task pool's side of its workers: starting them, what they send back, their idleness and their end.
 *
 * A worker is an actor spawned on the pool's loop, unref'd (the pool's keepalive handle holds the loop
 * while there is work). Workers with a free slot sit in one list per number of busy slots; a task goes to
 * the least busy, the most recently used first, so load spreads and the workers beyond min_threads are the
 * ones left idle, to end after idle_ms.
 *
 * A worker that ends while it holds tasks: a task it never started goes back to the front of the queue; a
 * task it was running completes with UV_ECONNRESET, except the one that ended it (see
 * uva_tpool_ctx_self()); a worker that could not start fails what it was given with its error. */
#include <stdio.h>

#include "tpool.h"

static const char text_start[] = "the worker thread could not start";
static const char text_reset[] = "the task's worker ended before the task completed";

static void on_worker_message(uva_actor_t *actor, uva_msg_t *msg);
static void on_worker_error(uva_actor_t *actor, const char *text);
static void on_worker_exit(uva_actor_t *actor, int exit_code);

static void worker_free(uva__tpool_worker_t *w) {
  unsigned int i;

  for (i = 0; i < w->nctx; i++) {
    if (w->ctx[i].carrier_here)
      uva_msg_free(w->ctx[i].carrier);
    uva_msg_free(w->ctx[i].arg);
    uva_msg_free(w->ctx[i].result);
    if (!w->ctx[i].text_static)
      free(w->ctx[i].text);
  }
  free(w->error);
  free(w);
}

/* A worker and its slots, each with its carrier: a message whose body is the slot's index. */
static uva__tpool_worker_t *worker_new(uva__tpool_t *p) {
  uva__tpool_worker_t *w;
  uva_tpool_ctx_t *ctx;
  unsigned int i;

  w = uva__calloc(1, sizeof(*w) + p->per_thread * sizeof(w->ctx[0]));
  if (w == NULL)
    return NULL;
  w->pool = p;
  w->level = -1;
  for (i = 0; i < p->per_thread; i++) {
    ctx = &w->ctx[i];
    ctx->worker = w;
    ctx->index = i;
    ctx->text_static = 1;
    if (uva_msg_new(&ctx->carrier) != 0)
      goto fail;
    ctx->carrier_here = 1;
    w->nctx++;
    /* Validated and viewed once, here: every post and read of it afterwards is a lookup. */
    msgpack_pack_uint32(uva_msg_packer(ctx->carrier), i);
    if (uva__tpool_ctx_of(w, ctx->carrier) != ctx)
      goto fail;
    ctx->next_free = w->free_ctx;
    w->free_ctx = ctx;
  }
  return w;

fail:
  worker_free(w);
  return NULL;
}

static void level_remove(uva__tpool_worker_t *w) {
  uva__tpool_t *p = w->pool;

  if (w->level < 0)
    return;
  if (w->lprev != NULL)
    w->lprev->lnext = w->lnext;
  else
    p->level[w->level] = w->lnext;
  if (w->lnext != NULL)
    w->lnext->lprev = w->lprev;
  w->level = -1;
}

static void level_push(uva__tpool_worker_t *w) {
  uva__tpool_t *p = w->pool;

  w->level = (int)w->busy;
  w->lprev = NULL;
  w->lnext = p->level[w->level];
  if (w->lnext != NULL)
    w->lnext->lprev = w;
  p->level[w->level] = w;
}

int uva__tpool_spawn(uva__tpool_t *p) {
  uva_actor_options_t options;
  uva__tpool_worker_t *w;
  char name[64];
  int err;

  w = worker_new(p);
  if (w == NULL) {
    p->spawn_err = UV_ENOMEM;
    return UV_ENOMEM;
  }
  snprintf(name, sizeof(name), "%s-%u", p->name, ++p->next_id);
  memset(&options, 0, sizeof(options));
  options.name = name;
  options.stack_size = p->stack_size;
  options.arg = w;
  options.message_cb = on_worker_message;
  options.error_cb = on_worker_error;
  options.exit_cb = on_worker_exit;
  w->actor.data = w;
  err = uva_actor_spawn(&w->actor, p->loop, uva__tpool_worker_main, &options);
  if (err != 0) {
    worker_free(w);
    p->spawn_err = err;
    return err;
  }
  uva_actor_unref(&w->actor);
  w->state = WORKER_RUNNING;
  w->born_ns = uv_hrtime();
  w->next = p->workers;
  if (p->workers != NULL)
    p->workers->prev = w;
  p->workers = w;
  p->nworkers++;
  p->nrunning++;
  level_push(w);
  return 0;
}

int uva__tpool_fill(uva__tpool_t *p) {
  unsigned int min = p->min_threads == UVA_TPOOL_MIN_NONE ? 0 : p->min_threads;
  int err;

  while (p->nrunning < min && p->nworkers < p->max_threads) {
    err = uva__tpool_spawn(p);
    if (err != 0)
      return p->nworkers == 0 ? err : 0;
  }
  return 0;
}

uva__tpool_worker_t *uva__tpool_pick(uva__tpool_t *p) {
  unsigned int b;

  for (b = 0; b < p->per_thread; b++)
    if (p->level[b] != NULL)
      return p->level[b];
  return NULL;
}

static void arm_idle(uva__tpool_t *p, uint64_t due_ms) {
  uint64_t now = uv_now(p->loop);

  if (p->idle_due != 0 && p->idle_due <= due_ms)
    return;
  p->idle_due = due_ms;
  uv_timer_start(&p->idle, uva__tpool_on_idle, due_ms > now ? due_ms - now : 0, 0);
}

static unsigned int min_threads(const uva__tpool_t *p) {
  return p->min_threads == UVA_TPOOL_MIN_NONE ? 0 : p->min_threads;
}

void uva__tpool_worker_busy(uva__tpool_worker_t *w, unsigned int before) {
  uva__tpool_t *p = w->pool;

  if (w->state != WORKER_RUNNING)
    return;
  level_remove(w);
  if (w->busy < p->per_thread)
    level_push(w);
  if (w->busy != 0 || before == 0)
    return;
  /* It became idle (a closing pool retires it when it settles). */
  if (!p->closing && p->nrunning > min_threads(p)) {
    w->idle_since = uv_now(p->loop);
    arm_idle(p, w->idle_since + p->idle_ms);
  }
}

void uva__tpool_worker_ending(uva__tpool_worker_t *w) {
  if (w->state != WORKER_RUNNING)
    return;
  level_remove(w);
  w->state = WORKER_ENDING;
  w->pool->nrunning--;
}

void uva__tpool_retire(uva__tpool_worker_t *w) {
  if (w->state != WORKER_RUNNING)
    return;
  level_remove(w);
  w->state = WORKER_RETIRING;
  w->pool->nrunning--;
  w->pool->nretiring++;
  /* Its port closes, then its loop has nothing left and it ends (thread_exit runs first). */
  uva_port_close(uva_actor_port(&w->actor));
}

void uva__tpool_on_idle(uv_timer_t *timer) {
  uva__tpool_t *p = timer->data;
  uva__tpool_worker_t *w;
  uva__tpool_worker_t *next;
  uint64_t due = 0;
  uint64_t now;

  uva__tpool_lock(p);
  p->idle_due = 0;
  now = uv_now(p->loop);
  for (w = p->workers; w != NULL && !p->closing; w = next) {
    next = w->next;
    if (w->state != WORKER_RUNNING || w->busy != 0 || p->nrunning <= min_threads(p))
      continue;
    if (now - w->idle_since >= p->idle_ms)
      uva__tpool_retire(w);
    else if (due == 0 || w->idle_since + p->idle_ms < due)
      due = w->idle_since + p->idle_ms;
  }
  if (due != 0)
    arm_idle(p, due);
  uva__tpool_settle(p);
  uva__tpool_unlock(p);
}

/* ---- what workers send back ---------------------------------------------------------------------- */

/* The slot is back: its task completes (or, abandoned, its result is discarded) and the slot is free. */
static void release(uva__tpool_t *p, uva__tpool_worker_t *w, uva_tpool_ctx_t *ctx) {
  unsigned int before = w->busy;

  if (ctx->task != NULL) {
    uva__tpool_complete(p, ctx->task, ctx->status, ctx->result, ctx->text, !ctx->text_static);
  } else {
    if (ctx->ran)
      p->late++;
    uva_msg_free(ctx->result);
    if (!ctx->text_static)
      free(ctx->text);
  }
  ctx->result = NULL;
  ctx->text = NULL;
  ctx->text_static = 1;
  ctx->task = NULL;
  ctx->busy = 0;
  ctx->next_free = w->free_ctx;
  w->free_ctx = ctx;
  w->busy--;
  p->running--;
  uva__tpool_worker_busy(w, before);
}

static void on_worker_message(uva_actor_t *actor, uva_msg_t *msg) {
  uva__tpool_worker_t *w = actor->data;
  uva__tpool_t *p = w->pool;
  uva_tpool_ctx_t *ctx = uva__tpool_ctx_of(w, msg);

  if (ctx == NULL || ctx->carrier != msg || !ctx->busy) {
    uva_msg_free(msg); /* not a carrier of this worker: nothing else posts on its port */
    return;
  }
  uva__tpool_lock(p);
  ctx->carrier_here = 1;
  uva__tpool_record(p, ctx);
  /* A task that ended its worker completes when the worker has ended, with what the exit says. */
  if (!ctx->ended_worker) {
    release(p, w, ctx);
    uva__tpool_dispatch(p);
  }
  uva__tpool_unlock(p);
  uva__tpool_flush(p);
}

static void on_worker_error(uva_actor_t *actor, const char *text) {
  uva__tpool_worker_t *w = actor->data;

  w->failed = 1;
  if (w->error == NULL)
    w->error = uva__strndup(text, strlen(text));
}

/* "<what> (the worker exited with code N: <its error>)", or what alone if that cannot be made. */
static char *exit_text(const uva__tpool_worker_t *w, const char *what, int exit_code, int *owned) {
  const char *error = w->error != NULL ? w->error : w->failed ? "its error text was lost" : NULL;
  size_t size = strlen(what) + (error != NULL ? strlen(error) : 0) + 64;
  char *text = uva__malloc(size);

  *owned = text != NULL;
  if (text == NULL)
    return (char *)what;
  snprintf(text, size, "%s (the worker exited with code %d%s%s)", what, exit_code, error != NULL ? ": " : "",
           error != NULL ? error : "");
  return text;
}

/* What becomes of a task its worker held when it ended. */
static void orphan(uva__tpool_t *p, uva__tpool_worker_t *w, uva_tpool_ctx_t *ctx, int exit_code) {
  uva_task_t *task = ctx->task;
  int owned;
  char *text;

  if (!w->ready) {
    text = exit_text(w, text_start, exit_code, &owned);
    uva__tpool_complete(p, task, w->init_err != 0 ? w->init_err : UV_ECONNRESET, NULL, text, owned);
  } else if (ctx->ended_worker && exit_code == 0 && !w->failed) {
    uva__tpool_complete(p, task, ctx->status, ctx->result, ctx->text, !ctx->text_static);
    ctx->result = NULL;
    ctx->text = NULL;
  } else if (ctx->ended_worker) {
    text = exit_text(w, "the task ended its worker", exit_code, &owned);
    uva__tpool_complete(p, task, exit_code != 0 ? exit_code : UV_ECONNRESET, NULL, text, owned);
  } else if (!ctx->ran) {
    /* The worker never touched it: it runs elsewhere. */
    task->msg_ = ctx->arg;
    task->ctx_ = NULL;
    ctx->arg = NULL;
    uva__tpool_enqueue(p, task, 1);
  } else {
    text = exit_text(w, text_reset, exit_code, &owned);
    uva__tpool_complete(p, task, UV_ECONNRESET, NULL, text, owned);
  }
  ctx->task = NULL;
}

static void on_worker_exit(uva_actor_t *actor, int exit_code) {
  uva__tpool_worker_t *w = actor->data;
  uva__tpool_t *p = w->pool;
  uva_tpool_ctx_t *ctx;
  unsigned int i;
  int died;

  uva__tpool_lock(p);
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    p->workers = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  level_remove(w);
  p->nworkers--;
  if (w->state == WORKER_RUNNING)
    p->nrunning--;
  else if (w->state == WORKER_RETIRING)
    p->nretiring--;
  p->thread_ns += uv_hrtime() - w->born_ns;
  p->busy_ns_ended += atomic_load(&w->busy_ns);
  /* Retired, or stopped by a cancelling close: not a death. */
  died = w->state != WORKER_RETIRING && !(p->closing && (p->close_flags & UVA_TPOOL_CLOSE_CANCEL));
  if (died)
    p->worker_deaths++;
  for (i = 0; i < w->nctx; i++) {
    ctx = &w->ctx[i];
    if (!ctx->busy)
      continue;
    if (ctx->task != NULL)
      orphan(p, w, ctx, exit_code);
    else if (ctx->ran && ctx->carrier_here)
      p->late++;
    ctx->busy = 0;
    p->running--;
  }
  /* A worker that never started is replaced only on demand, so a failing start cannot spin. */
  if (died && w->ready && !p->closing)
    uva__tpool_fill(p);
  worker_free(w);
  uva__tpool_dispatch(p);
  uva__tpool_starve(p);
  uva__tpool_unlock(p);
  uva__tpool_flush(p);
}
