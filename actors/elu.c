/* An actor's loop utilization (uvactor/stats.h): libuv's idle time, with spinning counted apart.
 *
 * libuv measures the time a loop waits in its poll once the loop is configured with UV_METRICS_IDLE_TIME;
 * that costs one extra non-blocking poll (a system call) each time the loop goes to sleep, so a loop turns
 * it on only when someone first asks: uva_self_elu() at once, on its own thread; uva_actor_elu() from
 * another thread by waking the loop, which turns it on at its next turn. uv_metrics_idle_time() may be
 * called from any thread (it takes the loop's metrics lock); actor->lock keeps the loop from closing under
 * it. Spinning (channel/loop.c, common/spin.c) happens outside the poll, so libuv counts it as work: the
 * actor's thread counts it in its own account (common/spin.h: an open window is read up to the reader's
 * clock), which is subtracted. */
#include <string.h>

#include "actors/actor.h"

int uva__elu_start_locked(uva__actor_shared_t *actor, int now) {
  if (actor->measure == UVA__MEASURE_ON || actor->loop_closed ||
      (!now && actor->measure != UVA__MEASURE_ASKED))
    return 0;
  (void)uv_loop_configure(actor->self.loop, UV_METRICS_IDLE_TIME); /* cannot fail for this option */
  actor->measure_start = uv_hrtime();
  actor->spin_base = uva__spin_account_read(&actor->spin, actor->measure_start);
  actor->measure = UVA__MEASURE_ON;
  return 1;
}

void uva__elu_stop_locked(uva__actor_shared_t *actor) {
  if (actor->measure == UVA__MEASURE_ON) {
    actor->last_idle = uv_metrics_idle_time(actor->self.loop);
    actor->measure_end = uv_hrtime();
    actor->last_spin = uva__spin_account_read(&actor->spin, actor->measure_end) - actor->spin_base;
  }
  actor->loop_closed = 1;
}

/* The utilization of busy out of total, 0 for an empty interval. */
static double utilization(uint64_t busy, uint64_t total) {
  return total == 0 ? 0 : (double)busy / (double)total;
}

/* Fills *elu with an interval of total ns of which idle waited and spin spun. The three clocks are read
 * one after another, so each part is capped by what is left of total. */
static void elu_fill(uva_elu_t *elu, uint64_t total, uint64_t idle, uint64_t spin) {
  memset(elu, 0, sizeof(*elu));
  elu->idle_ns = idle < total ? idle : total;
  elu->spin_ns = spin < total - elu->idle_ns ? spin : total - elu->idle_ns;
  elu->busy_ns = total - elu->idle_ns - elu->spin_ns;
  elu->utilization = utilization(elu->busy_ns, total);
}

/* actor->lock held. The actor's figures since measuring started: empty until it has. */
static void elu_read_locked(uva__actor_shared_t *actor, uva_elu_t *elu) {
  uint64_t idle;
  uint64_t spin;
  uint64_t now;

  if (actor->measure != UVA__MEASURE_ON) {
    elu_fill(elu, 0, 0, 0);
  } else if (actor->loop_closed) {
    elu_fill(elu, actor->measure_end - actor->measure_start, actor->last_idle, actor->last_spin);
  } else {
    idle = uv_metrics_idle_time(actor->self.loop);
    now = uv_hrtime(); /* one moment for the total and the open spin window */
    spin = uva__spin_account_read(&actor->spin, now) - actor->spin_base;
    elu_fill(elu, now - actor->measure_start, idle, spin);
  }
}

int uva_actor_elu(const uva_actor_t *actor, uva_elu_t *elu) {
  uva_actor_t *guarded = (uva_actor_t *)actor; /* the guard's count is the one field it writes */
  uva__actor_shared_t *shared;
  unsigned int state;
  int err = 0;

  if (actor == NULL || elu == NULL)
    return UV_EINVAL;
  /* Any thread: the guard keeps the join, which frees shared, waiting until this leaves. */
  state = uva__guard_enter(&guarded->state_, &guarded->inflight_, uva__actor_running);
  if (state != UVA__ACTOR_RUNNING)
    return state == UVA__ACTOR_ENDED ? UV_ESRCH : UV_EINVAL;
  if ((shared = actor->shared_)->generation != uva__fork_generation) {
    err = UVA_EFORKED;
  } else {
    uv_mutex_lock(&shared->lock);
    if (shared->measure == UVA__MEASURE_OFF && !shared->loop_closed) {
      /* The loop turns measuring on itself, at its next turn: it may be asleep, so it is woken (once it
       * runs; before, its thread starts measuring as it starts the loop). */
      shared->measure = UVA__MEASURE_ASKED;
      if (shared->running)
        uva__loop_poke(shared->self.wakeup);
    }
    elu_read_locked(shared, elu);
    uv_mutex_unlock(&shared->lock);
  }
  uva__guard_leave(&guarded->inflight_);
  return err;
}

int uva_self_elu(uva_self_t *self, uva_elu_t *elu) {
  uva__actor_shared_t *actor;

  if (self == NULL || elu == NULL)
    return UV_EINVAL;
  actor = self->actor;
  uv_mutex_lock(&actor->lock);
  if (uva__elu_start_locked(actor, 1))
    elu_fill(elu, 0, 0, 0); /* the moment measuring starts */
  else
    elu_read_locked(actor, elu);
  uv_mutex_unlock(&actor->lock);
  return 0;
}

/* A part's growth between two snapshots. Each snapshot reads the clocks one after another, so a part that
 * stood still can seem to go back by the few nanoseconds between two reads: that counts as no growth. */
static uint64_t grown(uint64_t before, uint64_t after) {
  return after > before ? after - before : 0;
}

static uint64_t elu_total(const uva_elu_t *elu) {
  return elu->busy_ns + elu->idle_ns + elu->spin_ns;
}

int uva_elu_diff(const uva_elu_t *before, const uva_elu_t *after, uva_elu_t *delta) {
  uint64_t total;

  if (before == NULL || after == NULL || delta == NULL || elu_total(after) < elu_total(before))
    return UV_EINVAL;
  total = elu_total(after) - elu_total(before);
  elu_fill(delta, total, grown(before->idle_ns, after->idle_ns), grown(before->spin_ns, after->spin_ns));
  return 0;
}
