/* Internal: blocking waits that another thread can end.
 *
 * A thread blocked in uva_port_post_wait(), uva_port_receive_wait(), a broadcast wait or uva_actor_join()
 * waits on a condition variable. An actor's thread has a canceller (the actor layer sets it): when the
 * actor is terminated or exits, the canceller fires, its wait wakes and returns UV_ECANCELED, and every
 * later wait on that thread returns UV_ECANCELED at once, so that terminate always ends the actor.
 *
 * Locks: a wait registers with its thread's canceller (cancel->lock) before it takes the mutex it waits
 * under, and leaves after it lets go of that mutex; fire takes cancel->lock, then that mutex. So the
 * mutex and condition it names stay alive while fire uses them: the waiter is still inside its call. */
#ifndef UVA_CHANNEL_CANCEL_H
#define UVA_CHANNEL_CANCEL_H

#include <stdatomic.h>

#include "uvactor/common.h"

typedef struct {
  uv_mutex_t lock;
  atomic_int fired;
  atomic_int ending; /* its actor's teardown has begun */
  uv_mutex_t *mutex; /* [lock] what its thread waits under, or NULL */
  uv_cond_t *cond;   /* [lock] what its thread waits on */
} uva__cancel_t;

/* One blocking wait: uva__wait_begin(), lock mutex, uva__wait() in a loop, unlock mutex, uva__wait_end(). */
typedef struct {
  uva__cancel_t *cancel; /* the thread's canceller, or NULL */
  uv_mutex_t *mutex;
  uv_cond_t *cond;
  uint64_t deadline;  /* uv_hrtime() when it times out */
  int64_t timeout_ms; /* < 0: never */
} uva__wait_t;

int uva__cancel_init(uva__cancel_t *cancel);
void uva__cancel_destroy(uva__cancel_t *cancel);

/* The calling thread's canceller from now on (NULL: none). */
void uva__cancel_set_thread(uva__cancel_t *cancel);

/* Ends the thread's current wait and every later one with UV_ECANCELED. Any thread, any number of times. */
void uva__cancel_fire(uva__cancel_t *cancel);

/* Fires, and says the actor's teardown has begun (uva__cancel_thread_ending()). */
void uva__cancel_end(uva__cancel_t *cancel);

/* Whether the calling thread's canceller fired: its actor is ending. */
int uva__cancel_thread_fired(void);

/* Whether the calling thread is an actor's in its teardown: what it starts now its teardown would miss. */
int uva__cancel_thread_ending(void);

/* What a wait that would have to wait returns when its timeout is 0: UV_ETIMEDOUT, or UV_ECANCELED on the
 * thread of an ending actor (the wait rule: a wait never outlives its actor, with any timeout). */
int uva__wait_refused(void);

/* The uv_hrtime() at which a wait of timeout_ms > 0 ends; UINT64_MAX (never) where that is beyond what the
 * clock can count. */
uint64_t uva__deadline(int64_t timeout_ms);

/* Starts a wait on cond under mutex, for up to timeout_ms (< 0: no limit), before mutex is taken. */
void uva__wait_begin(uva__wait_t *wait, uv_mutex_t *mutex, uv_cond_t *cond, int64_t timeout_ms);

/* mutex held: blocks until woken (0; the caller looks at its condition again), the deadline (UV_ETIMEDOUT)
 * or the thread's canceller (UV_ECANCELED, also at once if it fired before). */
int uva__wait(uva__wait_t *wait);

/* Ends the wait, after mutex is let go. */
void uva__wait_end(uva__wait_t *wait);

#endif /* UVA_CHANNEL_CANCEL_H */
