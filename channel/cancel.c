/* Blocking waits that an actor's terminate can end (cancel.h). */
#include "channel/cancel.h"

static __thread uva__cancel_t *thread_cancel __attribute__((tls_model("initial-exec")));

int uva__cancel_init(uva__cancel_t *cancel) {
  atomic_init(&cancel->fired, 0);
  atomic_init(&cancel->ending, 0);
  cancel->mutex = NULL;
  cancel->cond = NULL;
  return uv_mutex_init(&cancel->lock);
}

void uva__cancel_destroy(uva__cancel_t *cancel) {
  uv_mutex_destroy(&cancel->lock);
}

void uva__cancel_set_thread(uva__cancel_t *cancel) {
  thread_cancel = cancel;
}

void uva__cancel_fire(uva__cancel_t *cancel) {
  atomic_store(&cancel->fired, 1);
  uv_mutex_lock(&cancel->lock);
  if (cancel->mutex != NULL) {
    /* Under the waiter's mutex: it looks at fired and then waits without letting go in between. */
    uv_mutex_lock(cancel->mutex);
    uv_cond_broadcast(cancel->cond);
    uv_mutex_unlock(cancel->mutex);
  }
  uv_mutex_unlock(&cancel->lock);
}

void uva__cancel_end(uva__cancel_t *cancel) {
  atomic_store(&cancel->ending, 1);
  uva__cancel_fire(cancel);
}

int uva__cancel_thread_ending(void) {
  return thread_cancel != NULL && atomic_load(&thread_cancel->ending);
}

int uva__cancel_thread_fired(void) {
  return thread_cancel != NULL && atomic_load(&thread_cancel->fired);
}

int uva__wait_refused(void) {
  return uva__cancel_thread_fired() ? UV_ECANCELED : UV_ETIMEDOUT;
}

uint64_t uva__deadline(int64_t timeout_ms) {
  uint64_t now = uv_hrtime();

  if ((uint64_t)timeout_ms > (UINT64_MAX - now) / 1000000)
    return UINT64_MAX;
  return now + (uint64_t)timeout_ms * 1000000;
}

void uva__wait_begin(uva__wait_t *wait, uv_mutex_t *mutex, uv_cond_t *cond, int64_t timeout_ms) {
  wait->cancel = thread_cancel;
  wait->mutex = mutex;
  wait->cond = cond;
  wait->deadline = timeout_ms > 0 ? uva__deadline(timeout_ms) : 0;
  /* A deadline past the clock's end is no deadline. */
  wait->timeout_ms = wait->deadline == UINT64_MAX ? -1 : timeout_ms;
  if (wait->cancel == NULL)
    return;
  uv_mutex_lock(&wait->cancel->lock);
  wait->cancel->mutex = mutex;
  wait->cancel->cond = cond;
  uv_mutex_unlock(&wait->cancel->lock);
}

int uva__wait(uva__wait_t *wait) {
  uint64_t now;

  if (wait->cancel != NULL && atomic_load(&wait->cancel->fired))
    return UV_ECANCELED;
  if (wait->timeout_ms < 0) {
    uv_cond_wait(wait->cond, wait->mutex);
    return 0;
  }
  now = uv_hrtime();
  if (now >= wait->deadline)
    return UV_ETIMEDOUT;
  /* A timed-out wait may race a wakeup: the caller looks at its condition once more either way. */
  (void)uv_cond_timedwait(wait->cond, wait->mutex, wait->deadline - now);
  return 0;
}

void uva__wait_end(uva__wait_t *wait) {
  if (wait->cancel == NULL)
    return;
  uv_mutex_lock(&wait->cancel->lock);
  wait->cancel->mutex = NULL;
  wait->cancel->cond = NULL;
  uv_mutex_unlock(&wait->cancel->lock);
}
