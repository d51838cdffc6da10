/* The new handles an actor holds, closed when it ends (holder.h). */
#include "channel/endpoint.h"

/* Guards every holder's list and every hold's holder field. Taken on calls of handles that are held or
 * made on an actor's thread, never on a post. */
static uv_mutex_t holders_lock = UVA__MUTEX_INITIALIZER;

/* The holder of a handle the ending actor is closing now: a claim waits for the close (it takes the lock),
 * and the close's own release leaves the unlinking to uva__holder_close_all(). */
static uva__holder_t closing_holder;
#define CLOSING (&closing_holder)
/* The holder of a handle no actor may hold (uva__hold_pin()): no call claims it. */
static uva__holder_t pinned_holder;
#define PINNED (&pinned_holder)
static __thread uva__holder_t *thread_holder __attribute__((tls_model("initial-exec")));
static __thread int thread_closing_all
    __attribute__((tls_model("initial-exec"))); /* in close_all, under the lock */

static void holders_after_fork(void) {
  UVA__MUTEX_RESET(holders_lock);
}

UVA__AFTER_FORK(holders_after_fork)

void uva__holder_init(uva__holder_t *holder) {
  holder->first = NULL;
}

void uva__holder_set_thread(uva__holder_t *holder) {
  thread_holder = holder;
}

/* holders_lock held. */
static void unlink_locked(uva__hold_t *hold) {
  if (hold->prev != NULL)
    hold->prev->next = hold->next;
  else
    hold->holder->first = hold->next;
  if (hold->next != NULL)
    hold->next->prev = hold->prev;
  /* Release: a claim that then sees NULL without the lock sees the close that came before too. */
  __atomic_store_n(&hold->holder, NULL, __ATOMIC_RELEASE);
}

/* holders_lock held. */
static void link_locked(uva__hold_t *hold, uva__holder_t *holder) {
  hold->prev = NULL;
  hold->next = holder->first;
  if (holder->first != NULL)
    holder->first->prev = hold;
  holder->first = hold;
  __atomic_store_n(&hold->holder, holder, __ATOMIC_RELAXED);
}

void uva__hold(uva__hold_t *hold, void *handle) {
  hold->handle = handle;
  hold->holder = NULL;
  if (thread_holder == NULL)
    return;
  uv_mutex_lock(&holders_lock);
  link_locked(hold, thread_holder);
  uv_mutex_unlock(&holders_lock);
}

void uva__hold_claim(uva__hold_t *hold) {
  uva__holder_t *holder = __atomic_load_n(&hold->holder, __ATOMIC_ACQUIRE);

  /* Most calls come from the thread that holds the handle, or from threads that hold nothing. A handle
   * nobody holds is no ending actor's to close, so its state may be read here: only a new one is taken. */
  if (holder == thread_holder || holder == PINNED || (holder == CLOSING && thread_closing_all))
    return;
  if (holder == NULL && ((uva__endpoint_t *)hold->handle)->state_ != UVA__HANDLE_NEW)
    return;
  uv_mutex_lock(&holders_lock);
  if (hold->holder != thread_holder) {
    if (hold->holder != NULL)
      unlink_locked(hold);
    if (thread_holder != NULL)
      link_locked(hold, thread_holder);
  }
  uv_mutex_unlock(&holders_lock);
}

void uva__hold_release(uva__hold_t *hold) {
  uva__holder_t *holder = __atomic_load_n(&hold->holder, __ATOMIC_ACQUIRE);

  if (holder == NULL || holder == CLOSING || holder == PINNED)
    return;
  uv_mutex_lock(&holders_lock);
  if (hold->holder != NULL)
    unlink_locked(hold);
  uv_mutex_unlock(&holders_lock);
}

void uva__hold_pin(uva__hold_t *hold) {
  uva__hold_release(hold);
  __atomic_store_n(&hold->holder, PINNED, __ATOMIC_RELEASE);
}

void uva__holder_close_all(uva__holder_t *holder) {
  uva__hold_t *hold;
  void *handle;

  /* The ending actor holds nothing more: what its closes touch must not come back to its list. */
  thread_holder = NULL;
  uv_mutex_lock(&holders_lock);
  thread_closing_all = 1;
  while ((hold = holder->first) != NULL) {
    handle = hold->handle;
    switch (((uva__endpoint_t *)handle)->type) {
    case UVA_PORT:
    case UVA_BROADCAST:
      /* Under the lock, so that a claim from another thread waits for the close (holder.h); unlinked only
       * after it, so that one that then finds it unlinked also finds it closed. */
      __atomic_store_n(&hold->holder, CLOSING, __ATOMIC_RELAXED);
      if (((uva__endpoint_t *)handle)->type == UVA_PORT)
        (void)uva_port_close(handle);
      else
        (void)uva_broadcast_close(handle);
      __atomic_store_n(&hold->holder, holder, __ATOMIC_RELAXED); /* for unlink_locked() */
      unlink_locked(hold);
      break;
    default:
      /* Not under the lock: the actor's own end (or the pool's) closes what it holds, through this lock. */
      unlink_locked(hold);
      thread_closing_all = 0;
      uv_mutex_unlock(&holders_lock);
      if (((uva__endpoint_t *)handle)->type == UVA_TPOOL)
        uva__tpool_reap(handle);
      else
        uva__actor_reap(handle);
      uv_mutex_lock(&holders_lock);
      thread_closing_all = 1;
      break;
    }
  }
  thread_closing_all = 0;
  uv_mutex_unlock(&holders_lock);
}
