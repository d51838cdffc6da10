/* Supervisors: children restarted by a strategy, within an intensity, with a backoff (supervise.h).
 *
 * Everything runs on the supervisor's loop. The state is a set of flags per child (running, to be stopped,
 * wanted running, when it may start), and one function, reconcile(), moves the children towards it: first
 * the stops, one at a time and in reverse order, each waiting for its exit event; then the starts, in order.
 * Exit events, timers and the API only change flags, then call reconcile(). A child's restart is decided when
 * its exit event comes, and is the one place the strategy, the intensity and the backoff are applied.
 *
 * The supervisor's memory (this state and a node per child) is the library's, so it must be freed however
 * the supervisor ends: by uva_supervisor_close(), or by the teardown of the actor whose loop it runs on,
 * which closes handles without callbacks. A lifeline port, started on the loop and never posted on, tells the
 * teardown apart: its close callback runs in the teardown's first step (ports close first), before any timer
 * is closed behind our back, and the children's exit events come in that same step. */
#include <string.h>

#include "actors/actor.h"
#include "actors/lifeline.h"

enum { SUP_LIVE = 0x75610401 };

/* What the supervisor is doing. */
typedef enum {
  IDLE, /* initialized, not started */
  RUNNING,
  GIVING_UP, /* stopping every child, then GAVE_UP */
  GAVE_UP,
  CLOSING,  /* stopping every child, then closing */
  CLOSED,   /* its handles are closing; the close callback comes when they are closed */
  TORN_DOWN /* its actor's teardown: the children end with it, no event, no callback */
} sup_state_t;

typedef struct child_s child_t;

typedef struct uva__supervisor_s {
  uva_supervisor_t *handle;
  uva__link_t children; /* in start order */
  uva_port_t lifeline;  /* started and unref'd on the loop: closed by the loop's teardown */
  uva_port_t lifeline_peer;
  sup_state_t state;
  int started;
  int close_asked;      /* uva_supervisor_close() was called: its callback runs, however it ends */
  int busy;             /* in reconcile() */
  int again;            /* reconcile() has more to do */
  unsigned int closing; /* handles whose close callback has not run */
  child_t *gave_up_cause;
  uva_supervisor_close_cb close_cb;
  uva_supervisor_event_cb event_cb;
  uva_supervisor_strategy strategy;
  unsigned int intensity;
  uint64_t period_ms;
  uint64_t backoff_min_ms; /* 0: no backoff */
  uint64_t backoff_max_ms;
  unsigned int jitter; /* percent */
  uint64_t rng;
  unsigned int nrestarts; /* restart times in the ring */
  unsigned int oldest;    /* the ring's oldest entry */
  uint64_t restarts[];    /* the times (ms) of the last intensity restarts, a ring */
} sup_t;

struct child_s {
  uva__link_t link; /* in sup->children */
  sup_t *sup;
  uva_actor_t actor;
  uv_timer_t timer;            /* its restart's delay, or its stop's timeout */
  uva_actor_options_t options; /* the spec's, with the supervisor's callbacks */
  uva_actor_main_cb main_cb;
  uva_restart_type restart;
  uint64_t shutdown_ms;
  unsigned int running : 1;   /* spawned, its exit event not yet run */
  unsigned int must_stop : 1; /* the current stop (a strategy's, giving up, closing) includes it */
  unsigned int stop_sent : 1; /* terminated (or found ending) for that stop */
  unsigned int asked : 1;     /* the terminate took: its exit is a stop's */
  unsigned int wanted : 1;    /* it is to run: started when its turn comes */
  uint64_t due;               /* when (ms) it may start */
  uint64_t started_at;        /* when (ms) it last started */
  unsigned int consecutive;   /* restarts since it last ran backoff_max_ms */
  unsigned int restarts;
  child_t *cause;        /* the child whose end its pending restart answers; NULL: a first start */
  int last_code;         /* how its last instance ended */
  const char *last_text; /* and its error text: last_error, a spawn's error, or NULL */
  char *last_error;      /* the error text the last instance reported */
  char *error;           /* the running instance's error text */
  char name[64];         /* options.name's copy */
  char id[UVA_CHILD_ID_MAX + 1];
};

#define CHILD_OF(l) uva__container_of(l, child_t, link)
#define foreach_child(c, sup)                                                                          \
  for (uva__link_t *l_ = (sup)->children.next; l_ != &(sup)->children && ((c) = CHILD_OF(l_)) != NULL; \
       l_ = l_->next)

static uint64_t now_ms(void) {
  return uv_hrtime() / 1000000;
}

static void reconcile(sup_t *sup);

/* ---- events ------------------------------------------------------------------------------------------ */

static void emit(sup_t *sup, uva_supervisor_event_type type, const child_t *child, const child_t *cause) {
  uva_supervisor_event_t event;

  if (sup->event_cb == NULL)
    return;
  memset(&event, 0, sizeof(event));
  event.type = type;
  if (child != NULL) {
    event.child = child->id;
    event.actor_id = uva_actor_id(&child->actor);
    event.restarts = child->restarts;
  }
  switch (type) {
  case UVA_SUPERVISOR_STARTED:
  case UVA_SUPERVISOR_RESTARTED:
  case UVA_SUPERVISOR_STOP_TIMEOUT:
    event.actor = (uva_actor_t *)&child->actor;
    break;
  case UVA_SUPERVISOR_EXITED:
  case UVA_SUPERVISOR_STOPPED:
    event.exit_code = child->last_code;
    event.error = child->last_text;
    break;
  default:
    break;
  }
  if (cause != NULL) {
    event.cause = cause->id;
    event.exit_code = cause->last_code;
    event.error = cause->last_text;
  }
  sup->event_cb(sup->handle, &event);
}

/* ---- intensity and backoff ----------------------------------------------------------------------- */

/* Counts a restart at now, if the intensity allows one more within the period: 1; else 0, uncounted. The
 * ring holds the last intensity restarts, so the oldest of a full ring says. */
static int restart_allowed(sup_t *sup, uint64_t now) {
  if (sup->nrestarts == sup->intensity) {
    if (now - sup->restarts[sup->oldest] < sup->period_ms)
      return 0;
    sup->restarts[sup->oldest] = now;
    sup->oldest = (sup->oldest + 1) % sup->intensity;
    return 1;
  }
  sup->restarts[(sup->oldest + sup->nrestarts++) % sup->intensity] = now;
  return 1;
}

static uint64_t next_random(sup_t *sup) {
  uint64_t x = sup->rng;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  sup->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* How long the child's restart waits: nothing for the first after a stable run, then backoff_min_ms,
 * doubling up to backoff_max_ms, give or take the jitter. */
static uint64_t backoff(sup_t *sup, child_t *child, uint64_t now) {
  uint64_t delay;
  uint64_t spread;

  if (now - child->started_at >= sup->backoff_max_ms)
    child->consecutive = 0;
  if (sup->backoff_min_ms == 0 || child->consecutive++ == 0)
    return 0;
  delay = child->consecutive - 2 < 32 ? sup->backoff_min_ms << (child->consecutive - 2) : sup->backoff_max_ms;
  if (delay > sup->backoff_max_ms)
    delay = sup->backoff_max_ms;
  spread = delay * sup->jitter / 100;
  if (spread > 0)
    delay = delay - spread + next_random(sup) % (2 * spread + 1);
  return delay;
}

/* ---- children ------------------------------------------------------------------------------------- */

static void child_free(child_t *child) {
  free(child->last_error);
  free(child->error);
  free(child);
}

static void on_removed_timer_closed(uv_handle_t *handle) {
  child_t *child = uva__container_of(handle, child_t, timer);
  sup_t *sup = child->sup;

  child_free(child);
  sup->closing--;
  reconcile(sup);
}

/* A temporary child that ended leaves the supervisor (unless the supervisor is closing its handles, the
 * child's timer with them): before the event that reports its end, so that the callback may add a child of
 * the same id. Its memory stays until the timer's close callback, after the event. */
static void maybe_remove(child_t *child) {
  sup_t *sup = child->sup;

  if (child->restart != UVA_TEMPORARY || sup->state == CLOSED || sup->state == TORN_DOWN)
    return;
  uva__list_remove(&child->link);
  sup->closing++;
  uv_close((uv_handle_t *)&child->timer, on_removed_timer_closed);
}

static void on_child_error(uva_actor_t *actor, const char *text) {
  child_t *child = uva__container_of(actor, child_t, actor);

  /* Without memory the events carry no text; the exit code still says the child failed. */
  free(child->error);
  child->error = uva__strndup(text, UVA_FAIL_TEXT_MAX);
}

/* A restart of child is due (it ended, or could not start): the strategy says which children stop and which
 * start again, after the backoff; or the intensity is spent and the supervisor gives up. */
static void restart(sup_t *sup, child_t *child) {
  uint64_t now = now_ms();
  uint64_t due;
  child_t *c;
  int after = 0;

  if (!restart_allowed(sup, now)) {
    sup->state = GIVING_UP;
    sup->gave_up_cause = child;
    foreach_child(c, sup) {
      c->wanted = 0;
      c->must_stop = c->running;
    }
    return;
  }
  due = now + backoff(sup, child, now);
  foreach_child(c, sup) {
    if (c == child)
      after = 1;
    if (c != child && (sup->strategy == UVA_ONE_FOR_ONE || (sup->strategy == UVA_REST_FOR_ONE && !after)))
      continue;
    c->must_stop = c->running;
    c->wanted = c->restart != UVA_TEMPORARY; /* a temporary child is stopped, and removed, never restarted */
    c->due = due;
    c->cause = child;
  }
}

/* What a child's end calls for, once its event is out. */
static void child_ended(sup_t *sup, child_t *child, int exit_code) {
  int again;

  if (sup->state != RUNNING || uva__self_ending()) {
    child->wanted = 0;
  } else {
    again = child->restart == UVA_PERMANENT || (child->restart == UVA_TRANSIENT && exit_code != 0);
    if (again)
      restart(sup, child);
    else
      child->wanted = 0;
  }
}

static void on_child_exit(uva_actor_t *actor, int exit_code) {
  child_t *child = uva__container_of(actor, child_t, actor);
  sup_t *sup = child->sup;
  int stopped = child->asked;
  int in_stop = child->must_stop;

  child->running = child->must_stop = child->stop_sent = child->asked = 0;
  uv_timer_stop(&child->timer);
  free(child->last_error);
  child->last_error = child->error;
  child->last_text = child->last_error;
  child->error = NULL;
  child->last_code = exit_code;
  if (sup->state == TORN_DOWN) {
    reconcile(sup); /* frees the supervisor once the last child is gone */
    return;
  }
  maybe_remove(child);
  emit(sup, stopped ? UVA_SUPERVISOR_STOPPED : UVA_SUPERVISOR_EXITED, child, NULL);
  if (!in_stop)
    child_ended(sup, child, exit_code);
  reconcile(sup);
}

static void on_child_timer(uv_timer_t *timer) {
  child_t *child = uva__container_of(timer, child_t, timer);

  if (child->running && child->asked)
    emit(child->sup, UVA_SUPERVISOR_STOP_TIMEOUT, child, NULL); /* C cannot kill it: we wait on */
  else
    reconcile(child->sup);
}

/* Starts the child now: STARTED or RESTARTED; a spawn that fails counts as an end at once. */
static void child_start(sup_t *sup, child_t *child) {
  child_t *cause = child->cause;
  int err;

  child->cause = NULL;
  err = uva_actor_spawn(&child->actor, sup->handle->loop, child->main_cb, &child->options);
  child->started_at = now_ms();
  if (err != 0) {
    child->last_text = uva_strerror(err); /* static: no allocation after one failed */
    child->last_code = err;
    maybe_remove(child);
    emit(sup, UVA_SUPERVISOR_EXITED, child, NULL);
    child_ended(sup, child, err);
    return;
  }
  child->running = 1;
  if (cause != NULL)
    child->restarts++;
  emit(sup, cause != NULL ? UVA_SUPERVISOR_RESTARTED : UVA_SUPERVISOR_STARTED, child, cause);
}

static void child_stop(child_t *child) {
  child->stop_sent = 1;
  /* UV_EALREADY: it is ending by itself, its exit event is on the way. */
  child->asked = uva_actor_terminate(&child->actor) == 0;
  if (child->asked)
    uv_timer_start(&child->timer, on_child_timer, child->shutdown_ms, 0);
}

/* ---- the supervisor's end ----------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *handle) {
  sup_t *sup = uva__container_of(handle, child_t, timer)->sup;

  sup->closing--;
  reconcile(sup);
}

/* Closes every child's timer and the lifeline; the last close callback frees the supervisor. */
static void close_handles(sup_t *sup) {
  child_t *c;

  foreach_child(c, sup) {
    sup->closing++;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  }
  uva_port_close(&sup->lifeline_peer);
}

/* Frees the supervisor once nothing of it is left running or closing; then the close callback, if closed. */
static int maybe_free(sup_t *sup) {
  uva_supervisor_t *handle = sup->handle;
  uva_supervisor_close_cb close_cb = sup->close_cb;
  int closed = sup->close_asked;
  child_t *c;

  if (sup->closing > 0)
    return 0;
  foreach_child(c, sup) if (c->running) return 0;
  while (!uva__list_empty(&sup->children)) {
    c = CHILD_OF(sup->children.next);
    uva__list_remove(&c->link);
    child_free(c);
  }
  free(sup);
  handle->impl_ = NULL;
  handle->state_ = 0;
  handle->loop = NULL;
  if (closed && close_cb != NULL)
    close_cb(handle);
  return 1;
}

static void on_lifeline_close(uva_port_t *port) {
  sup_t *sup = uva__container_of(port, sup_t, lifeline);

  if (sup->state != CLOSED) {
    /* The loop's teardown: its actor is ending, and takes the children with it. */
    sup->state = TORN_DOWN;
    close_handles(sup);
    reconcile(sup);
    return;
  }
  sup->closing--;
  reconcile(sup);
}

/* ---- reconcile ---------------------------------------------------------------------------------- */

/* One step towards what the flags want: 1 if it did something and the flags should be looked at again. */
static int step(sup_t *sup) {
  child_t *last;
  uint64_t now;
  child_t *c;
  uva__link_t *l;

  if (sup->state == CLOSED || sup->state == TORN_DOWN)
    return maybe_free(sup) ? -1 : 0;
  /* Stops, one at a time, the last child first: each waits for the exit event of the one before (a second
   * failure while a stop is under way adds to the children to stop, it does not start a second stop). */
  last = NULL;
  for (l = sup->children.prev; l != &sup->children; l = l->prev) {
    c = CHILD_OF(l);
    if (!c->running || !c->must_stop)
      continue;
    if (c->stop_sent)
      return 0;
    if (last == NULL)
      last = c;
  }
  if (last != NULL) {
    child_stop(last);
    return 1;
  }
  if (sup->state == CLOSING) {
    sup->state = CLOSED;
    sup->closing++; /* the lifeline */
    close_handles(sup);
    uva_port_close(&sup->lifeline);
    return 0;
  }
  if (sup->state == GIVING_UP) {
    sup->state = GAVE_UP;
    emit(sup, UVA_SUPERVISOR_GAVE_UP, NULL, sup->gave_up_cause);
    return 1;
  }
  if (sup->state != RUNNING || !sup->started || uva__self_ending())
    return 0;
  /* Starts, in order. Under one_for_all and rest_for_one a child waiting for its restart's delay holds back
   * the ones after it; one_for_one's children are independent. */
  now = now_ms();
  foreach_child(c, sup) {
    if (c->running || !c->wanted)
      continue;
    if (c->due > now) {
      uv_timer_start(&c->timer, on_child_timer, c->due - now, 0);
      if (sup->strategy == UVA_ONE_FOR_ONE)
        continue;
      return 0;
    }
    child_start(sup, c);
    return 1;
  }
  return 0;
}

/* Reentrant: an event callback may call the API, which calls this again; the outer call does the work. */
static void reconcile(sup_t *sup) {
  int more;

  if (sup->busy) {
    sup->again = 1;
    return;
  }
  sup->busy = 1;
  do {
    sup->again = 0;
    more = step(sup);
    if (more < 0)
      return; /* freed */
  } while (more > 0 || sup->again);
  sup->busy = 0;
}

/* ---- the API -------------------------------------------------------------------------------------- */

static unsigned int or_default(unsigned int value, unsigned int fallback) {
  return value != 0 ? value : fallback;
}

/* Whether a reserved slot is set: a later version's option, which this one would ignore. */
static int reserved_set(void *const *reserved, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    if (reserved[i] != NULL)
      return 1;
  return 0;
}

int uva_supervisor_init(uva_supervisor_t *sup, uv_loop_t *loop, const uva_supervisor_options_t *options) {
  static const uva_supervisor_options_t defaults;
  unsigned int intensity;
  sup_t *impl;
  int err;

  if (options == NULL)
    options = &defaults;
  if (sup == NULL || loop == NULL || options->strategy > UVA_REST_FOR_ONE ||
      options->intensity > UVA_INTENSITY_MAX || options->backoff_jitter > 100 ||
      reserved_set(options->reserved, sizeof(options->reserved) / sizeof(options->reserved[0])))
    return UV_EINVAL;
  intensity = or_default(options->intensity, 3);
  impl = uva__calloc(1, sizeof(*impl) + intensity * sizeof(impl->restarts[0]));
  if (impl == NULL)
    return UV_ENOMEM;
  err = uva__lifeline_start(&impl->lifeline, &impl->lifeline_peer, loop, NULL, on_lifeline_close);
  if (err != 0) {
    free(impl);
    return err;
  }
  impl->handle = sup;
  uva__list_init(&impl->children);
  impl->state = IDLE;
  impl->event_cb = options->event_cb;
  impl->strategy = options->strategy;
  impl->intensity = intensity;
  impl->period_ms = or_default(options->period_ms, 5000);
  impl->backoff_min_ms =
      options->backoff_min_ms == UVA_BACKOFF_OFF ? 0 : or_default(options->backoff_min_ms, 10);
  impl->backoff_max_ms = or_default(options->backoff_max_ms, 1000);
  if (impl->backoff_max_ms < impl->backoff_min_ms)
    impl->backoff_max_ms = impl->backoff_min_ms;
  impl->jitter = options->backoff_jitter;
  impl->rng = (uv_hrtime() ^ (uintptr_t)impl) | 1;
  sup->type = UVA_SUPERVISOR;
  sup->loop = loop;
  sup->owner_ = uv_thread_self();
  sup->flags_ = 0;
  sup->impl_ = impl;
  sup->state_ = SUP_LIVE;
  return 0;
}

/* The supervisor, if the calling thread may use it; else NULL and *err says why. */
static sup_t *sup_get(uva_supervisor_t *sup, int *err) {
  if (sup == NULL || sup->state_ != SUP_LIVE) {
    *err = UV_EINVAL;
    return NULL;
  }
  if (uva__port_forked(&sup->impl_->lifeline)) {
    *err = UVA_EFORKED;
    return NULL;
  }
  if (!uva__on_thread(&sup->owner_)) {
    *err = UV_EPERM;
    return NULL;
  }
  *err = 0;
  return sup->impl_;
}

static child_t *find_child(sup_t *sup, const char *id) {
  child_t *c;

  foreach_child(c, sup) if (strcmp(c->id, id) == 0) return c;
  return NULL;
}

/* 0 if spec is one a supervisor takes on loop (the copy is in options). */
static int spec_check(uv_loop_t *loop, const uva_child_spec_t *spec, uva_actor_options_t *options) {
  size_t id_len;

  if (spec == NULL || spec->id == NULL || spec->main_cb == NULL || spec->restart > UVA_TEMPORARY ||
      reserved_set(spec->reserved, sizeof(spec->reserved) / sizeof(spec->reserved[0])))
    return UV_EINVAL;
  id_len = strnlen(spec->id, UVA_CHILD_ID_MAX + 1);
  if (id_len == 0 || id_len > UVA_CHILD_ID_MAX)
    return UV_EINVAL;
  memset(options, 0, sizeof(*options));
  if (spec->options != NULL) {
    *options = *spec->options;
    if (options->init != NULL || options->error_cb != NULL || options->exit_cb != NULL ||
        (options->flags & UVA_ACTOR_LINK))
      return UV_EINVAL;
  }
  options->error_cb = on_child_error;
  options->exit_cb = on_child_exit;
  return uva__actor_options_valid(loop, options) ? 0 : UV_EINVAL;
}

int uva_supervisor_add(uva_supervisor_t *handle, const uva_child_spec_t *spec) {
  uva_actor_options_t options;
  child_t *child;
  int err;
  sup_t *sup = sup_get(handle, &err);

  if (sup == NULL)
    return err;
  err = spec_check(handle->loop, spec, &options);
  if (err != 0)
    return err;
  if (sup->state != IDLE && sup->state != RUNNING)
    return UV_ECANCELED;
  if (find_child(sup, spec->id) != NULL)
    return UV_EEXIST;
  child = uva__calloc(1, sizeof(*child));
  if (child == NULL)
    return UV_ENOMEM;
  child->sup = sup;
  child->options = options;
  if (options.name != NULL) {
    strcpy(child->name, options.name); /* checked: at most 63 bytes */
    child->options.name = child->name;
  }
  strcpy(child->id, spec->id);
  child->main_cb = spec->main_cb;
  child->restart = spec->restart;
  child->shutdown_ms = or_default(spec->shutdown_ms, 5000);
  child->wanted = 1;
  uv_timer_init(handle->loop, &child->timer); /* never fails: it allocates nothing */
  uva__list_insert_tail(&sup->children, &child->link);
  reconcile(sup);
  return 0;
}

int uva_supervisor_start(uva_supervisor_t *handle) {
  int err;
  sup_t *sup = sup_get(handle, &err);

  if (sup == NULL)
    return err;
  if (sup->state != IDLE)
    return sup->state == RUNNING ? UV_EALREADY : UV_ECANCELED;
  sup->state = RUNNING;
  sup->started = 1;
  reconcile(sup);
  return 0;
}

uva_actor_t *uva_supervisor_child(uva_supervisor_t *handle, const char *id) {
  child_t *child;
  int err;
  sup_t *sup = sup_get(handle, &err);

  if (sup == NULL || id == NULL)
    return NULL;
  child = find_child(sup, id);
  return child != NULL && child->running ? &child->actor : NULL;
}

int uva_supervisor_close(uva_supervisor_t *handle, uva_supervisor_close_cb close_cb) {
  child_t *c;
  int err;
  sup_t *sup = sup_get(handle, &err);

  if (sup == NULL)
    return err;
  if (sup->state == CLOSING || sup->state == CLOSED)
    return UV_EALREADY;
  if (sup->state == TORN_DOWN) {
    /* Asked during its actor's teardown (from a port's close callback): the teardown is closing it. */
    sup->close_asked = 1;
    sup->close_cb = close_cb;
    return 0;
  }
  sup->state = CLOSING;
  sup->close_asked = 1;
  sup->close_cb = close_cb;
  foreach_child(c, sup) {
    c->wanted = 0;
    c->must_stop = c->running;
  }
  reconcile(sup);
  return 0;
}
