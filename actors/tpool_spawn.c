/* The task pool's side of its workers: starting them, their bells, their idleness and their end.
 *
 * A worker is an actor spawned on the pool's loop, unref'd (the pool's keepalive handle holds the loop
 * while there is work). A worker rings its bell when it has put finished slots on its done list; the owner
 * reads their outcomes (completing the tasks), frees the slots and wakes workers if tasks wait. A worker
 * above min_threads that has held nothing for idle_ms is retired: its port is closed and it ends.
 *
 * A worker that ends while it holds tasks: a task it was running (or that was pending on it) completes
 * with UV_ECONNRESET, except the one that ended it (see uva_tpool_ctx_self()). A worker that could not
 * start took nothing, and no other is started before the next submit; if no worker can run the queued
 * tasks, they fail with its error. */
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
    uva_msg_free(w->ctx[i].arg);
    uva_msg_free(w->ctx[i].result);
    if (!w->ctx[i].text_static)
      free(w->ctx[i].text);
  }
  uva_msg_free(w->wake);
  uva_msg_free(w->bell);
  free(w->error);
  free(w);
}

static int nil_msg(uva_msg_t **msgp) {
  int err = uva_msg_new(msgp);

  if (err == 0)
    msgpack_pack_nil(uva_msg_packer(*msgp));
  return err;
}

/* A worker, its slots and its two messages. */
static uva__tpool_worker_t *worker_new(uva__tpool_t *p) {
  unsigned int nctx = p->per_thread + TPOOL_SPARE;
  uva__tpool_worker_t *w;
  uva_tpool_ctx_t *ctx;
  unsigned int i;

  w = uva__calloc(1, sizeof(*w) + nctx * sizeof(w->ctx[0]));
  if (w == NULL)
    return NULL;
  w->pool = p;
  w->nctx = nctx;
  for (i = nctx; i-- > 0;) {
    ctx = &w->ctx[i];
    ctx->worker = w;
    ctx->text_static = 1;
    ctx->next = w->free_ctx;
    w->free_ctx = ctx;
  }
  if (nil_msg(&w->wake) != 0 || nil_msg(&w->bell) != 0) {
    worker_free(w);
    return NULL;
  }
  return w;
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
  w->state = WORKER_RUNNING;
  w->born_ns = uv_hrtime();
  err = uva_actor_spawn(&w->actor, p->loop, uva__tpool_worker_main, &options);
  if (err != 0) {
    worker_free(w);
    p->spawn_err = err;
    return err;
  }
  uva_actor_unref(&w->actor);
  w->next = p->workers;
  if (p->workers != NULL)
    p->workers->prev = w;
  p->workers = w;
  p->nworkers++;
  p->nrunning++;
  return 0;
}

static unsigned int min_threads(const uva__tpool_t *p) {
  return p->min_threads == UVA_TPOOL_MIN_NONE ? 0 : p->min_threads;
}

int uva__tpool_fill(uva__tpool_t *p) {
  int err;

  while (p->nrunning < min_threads(p) && p->nworkers < p->max_threads) {
    err = uva__tpool_spawn(p);
    if (err != 0)
      return p->nworkers == 0 ? err : 0;
  }
  return 0;
}

int uva__tpool_can_take(const uva__tpool_worker_t *w) {
  return w->unfinished < w->pool->per_thread && w->free_ctx != NULL;
}

static void arm_idle(uva__tpool_t *p, uint64_t due_ms) {
  uint64_t now = uv_now(p->loop);

  if (p->idle_due != 0 && p->idle_due <= due_ms)
    return;
  p->idle_due = due_ms;
  uv_timer_start(&p->idle, uva__tpool_on_idle, due_ms > now ? due_ms - now : 0, 0);
}

void uva__tpool_worker_ending(uva__tpool_worker_t *w) {
  if (w->state != WORKER_RUNNING)
    return;
  w->state = WORKER_ENDING;
  w->pool->nrunning--;
}

void uva__tpool_retire(uva__tpool_worker_t *w) {
  if (w->state != WORKER_RUNNING)
    return;
  w->state = WORKER_RETIRING;
  w->pool->nrunning--;
  w->pool->nretiring++;
  /* Its port closes, then thread_exit runs and it ends. */
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
  for (w = p->workers; w != NULL && !p->closing && p->queued == 0; w = next) {
    next = w->next;
    if (w->state != WORKER_RUNNING || w->held != 0 || p->nrunning <= min_threads(p))
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

/* ---- bells --------------------------------------------------------------------------------------- */

/* A slot the worker finished: its task completes (or, abandoned, its result is discarded) and the slot is
 * free again. */
static void read_slot(uva__tpool_t *p, uva__tpool_worker_t *w, uva_tpool_ctx_t *ctx) {
  uva__tpool_record(p, ctx);
  if (ctx->ended_worker) {
    ctx->state = CTX_HELD; /* decided when the worker has ended */
    return;
  }
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
  ctx->state = CTX_FREE;
  ctx->next = w->free_ctx;
  w->free_ctx = ctx;
  w->held--;
}

static void read_done(uva__tpool_t *p, uva__tpool_worker_t *w) {
  uva_tpool_ctx_t *ctx = w->done_head;
  uva_tpool_ctx_t *next;

  w->done_head = w->done_tail = NULL;
  for (; ctx != NULL; ctx = next) {
    next = ctx->next;
    read_slot(p, w, ctx);
  }
}

static void on_worker_message(uva_actor_t *actor, uva_msg_t *msg) {
  uva__tpool_worker_t *w = actor->data;
  uva__tpool_t *p = w->pool;

  uva__tpool_lock(p);
  if (w->bell == NULL)
    w->bell = msg; /* back at rest: the next slot that finishes rings again */
  else
    uva_msg_free(msg); /* nothing else is posted on a worker's port */
  read_done(p, w);
  if (p->timeouts_wanted != 0) {
    uva__tpool_arm_timeouts(p, p->timeouts_wanted);
    p->timeouts_wanted = 0;
  }
  uva__tpool_dispatch(p);
  if (w->held == 0 && w->state == WORKER_RUNNING && !p->closing && p->nrunning > min_threads(p)) {
    w->idle_since = uv_now(p->loop);
    arm_idle(p, w->idle_since + p->idle_ms);
  }
  uva__tpool_unlock(p);
  uva__tpool_flush(p);
}

/* ---- a worker's end ------------------------------------------------------------------------------ */

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

/* What becomes of a task its worker still held when it ended. */
static void orphan(uva__tpool_t *p, uva__tpool_worker_t *w, uva_tpool_ctx_t *ctx, int exit_code) {
  uva_task_t *task = ctx->task;
  int owned;
  char *text;

  if (task == NULL) {
    if (ctx->ran && ctx->state == CTX_HELD)
      p->late++;
  } else if (ctx->state == CTX_HELD && (exit_code == 0 || exit_code == UVA_EXIT_TERMINATED) && !w->failed) {
    /* It ended its worker cleanly (a stop the pool asked for came after it: not the task's doing). */
    uva__tpool_complete(p, task, ctx->status, ctx->result, ctx->text, !ctx->text_static);
    ctx->result = NULL;
    ctx->text = NULL;
  } else if (ctx->state == CTX_HELD) {
    text = exit_text(w, "the task ended its worker", exit_code, &owned);
    uva__tpool_complete(p, task, exit_code != 0 ? exit_code : UV_ECONNRESET, NULL, text, owned);
  } else {
    text = exit_text(w, text_reset, exit_code, &owned);
    uva__tpool_complete(p, task, UV_ECONNRESET, NULL, text, owned);
  }
  if (ctx->state == CTX_TAKEN)
    p->running--;
  ctx->task = NULL;
  ctx->state = CTX_FREE;
}

static void on_worker_exit(uva_actor_t *actor, int exit_code) {
  uva__tpool_worker_t *w = actor->data;
  uva__tpool_t *p = w->pool;
  unsigned int i;
  int died;

  uva__tpool_lock(p);
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    p->workers = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
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
  read_done(p, w);
  for (i = 0; i < w->nctx; i++)
    if (w->ctx[i].state != CTX_FREE)
      orphan(p, w, &w->ctx[i], exit_code);
  /* It could not start: no worker is started again before the next submit (uva__tpool_dispatch()), so a
   * start that keeps failing cannot spin; and if no other worker runs, the queued tasks fail with its error
   * rather than wait for starts that fail. */
  if (died && !w->ready) {
    p->spawn_err = w->init_err != 0 ? w->init_err : UV_ECONNRESET;
    if (p->queued > 0 && p->nrunning == 0)
      uva__tpool_fail_queued(p, p->spawn_err, w->init_what != NULL ? w->init_what : text_start);
  }
  /* A worker that ran is replaced up to min_threads; one that never started only by the next submit. */
  if (died && w->ready && !p->closing)
    uva__tpool_fill(p);
  worker_free(w);
  uva__tpool_dispatch(p);
  uva__tpool_starve(p);
  uva__tpool_unlock(p);
  uva__tpool_flush(p);
}
