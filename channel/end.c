/* Ends: a locked FIFO queue per side of a channel, and its delivery on the loop it is started on. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "channel/call.h"
#include "channel/end.h"
#include "common/clock.h"
#include "common/counter.h"
#include "common/prefetch.h"
#include "common/spin.h"

typedef struct {
  atomic_uint refs;  /* first: an end's refs pointer is the pair's address */
  uva__link_t pairs; /* [pairs_lock] in the list of every pair */
  uva__end_t ends[2];
} pair_t;

/* Every pair of ends (and lone member end) alive, for uva_process_stats(): kept apart from posts, so that
 * counting what is in flight costs a post nothing. */
static uv_mutex_t pairs_lock = UVA__MUTEX_INITIALIZER;
static uva__link_t pairs = {&pairs, &pairs}; /* [pairs_lock] */

/* A child keeps the parent's pairs on the list (of another generation, so not counted) and a lock another
 * thread may have held at the fork. */
static void pairs_after_fork(void) {
  UVA__MUTEX_RESET(pairs_lock);
}

UVA__AFTER_FORK(pairs_after_fork)

#define PAIR_OF(link) uva__container_of(link, pair_t, pairs)

static int end_init(uva__end_t *end, atomic_uint *refs) {
  int err;

  err = uva__mutex_init_adaptive(&end->lock);
  if (err != 0)
    return err;
  err = uv_cond_init(&end->readable);
  if (err != 0)
    goto fail_readable;
  err = uv_cond_init(&end->writable);
  if (err != 0)
    goto fail_writable;
  end->peer = NULL;
  end->refs = refs;
  end->generation = uva__fork_generation;
  end->transit_msg = NULL;
  end->head = NULL;
  end->tailp = &end->head;
  end->nqueued = end->pending = end->pending_bytes = 0;
  end->high_water = end->high_water_bytes = 0;
  end->head_since = end->batch_since = 0;
  end->delivered = end->delivered_bytes = end->dropped = end->dropped_bytes = end->refused = 0;
  end->released = 0;
  end->max_pending = end->max_pending_bytes = end->max_part = 0;
  end->room_wanted = end->drain_wanted = 0;
  end->notify_drain = end->oversized_ok = 0;
  atomic_store_explicit(&end->drain_watch, 0, memory_order_relaxed);
  end->readers_waiting = end->writers_waiting = 0;
  end->closed = 0;
  end->queued = end->notify_room = end->writable_due = end->calls_due = end->ahead_off = 0;
  end->calls = NULL;
  end->loop = NULL;
  end->handle = NULL;
  end->ops = NULL;
  end->batch = NULL;
  end->batch_left = 0;
  atomic_init(&end->done, 0);
  atomic_init(&end->done_bytes, 0);
  atomic_init(&end->calls_pending, 0);
  atomic_init(&end->late_replies, 0);
  atomic_init(&end->call_waiting, 0);
  end->keeps_alive = 0;
  end->paused = 0;
  end->share_wrote = 0;
  end->share_turn = 0;
  end->share_used = 0;
  end->share_start = 0;
  end->spin_ns = (uint64_t)UVA_SPIN_DEFAULT_US * 1000;
  uva__list_init(&end->ready);
  uva__list_init(&end->attached);
  end->group = NULL;
  uva__list_init(&end->member);
  end->refused_len = 0;
  end->wants_room = 0;
  return 0;

fail_writable:
  uv_cond_destroy(&end->readable);
fail_readable:
  uv_mutex_destroy(&end->lock);
  return err;
}

static void end_destroy(uva__end_t *end) {
  uv_cond_destroy(&end->writable);
  uv_cond_destroy(&end->readable);
  uv_mutex_destroy(&end->lock);
}

/* Makes n ends (1: a member's, 2: a channel's) in one block; they share its count of live ends. */
static int ends_new(pair_t **pairp, unsigned int n) {
  pair_t *pair;
  unsigned int i;
  int err;

  pair = uva__aligned_alloc(_Alignof(pair_t), sizeof(*pair));
  if (pair == NULL)
    return UV_ENOMEM;
  atomic_init(&pair->refs, n);
  for (i = 0; i < n; i++) {
    err = end_init(&pair->ends[i], &pair->refs);
    if (err != 0) {
      while (i-- > 0)
        end_destroy(&pair->ends[i]);
      free(pair);
      return err;
    }
  }
  uv_mutex_lock(&pairs_lock);
  uva__list_insert_tail(&pairs, &pair->pairs);
  uv_mutex_unlock(&pairs_lock);
  *pairp = pair;
  return 0;
}

int uva__end_pair_new(uva__end_t **a, uva__end_t **b) {
  pair_t *pair;
  int err = ends_new(&pair, 2);

  if (err != 0)
    return err;
  pair->ends[0].peer = &pair->ends[1];
  pair->ends[1].peer = &pair->ends[0];
  *a = &pair->ends[0];
  *b = &pair->ends[1];
  return 0;
}

int uva__end_new_member(uva__end_t **endp) {
  pair_t *pair;
  int err = ends_new(&pair, 1);

  if (err == 0)
    *endp = &pair->ends[0];
  return err;
}

/* Messages this thread is freeing. Freeing a message frees the ports it carries, and with each the messages
 * queued to it, which may carry ports in turn: a chain of ports in transit, each queued on the next, would
 * recurse once per link and overflow the stack (a small actor stack at a few thousand). So the chains met
 * while freeing go on this list, and the outermost free_chain() works through it. */
static __thread struct {
  uva_msg_t *head;
  uva_msg_t **tailp;
  int busy;
} freeing __attribute__((tls_model("initial-exec")));

/* Frees a chain of messages linked by next, and what freeing them finds. */
static void free_chain(uva_msg_t *chain) {
  uva_msg_t *msg;

  if (chain == NULL)
    return;
  if (!freeing.busy)
    freeing.tailp = &freeing.head;
  *freeing.tailp = chain;
  for (msg = chain; msg->next != NULL; msg = msg->next)
    ;
  freeing.tailp = &msg->next;
  if (freeing.busy)
    return;
  freeing.busy = 1;
  while ((msg = freeing.head) != NULL) {
    freeing.head = msg->next;
    if (freeing.head == NULL)
      freeing.tailp = &freeing.head;
    uva_msg_free(msg);
  }
  freeing.busy = 0;
}

/* end->lock held. Puts what the batch still holds back at the front of the queue, in order: it is older
 * than anything queued. */
static void batch_requeue_locked(uva__end_t *end) {
  uva_msg_t **lastp;

  if (end->batch == NULL)
    return;
  for (lastp = &end->batch; *lastp != NULL; lastp = &(*lastp)->next)
    ;
  *lastp = end->head;
  if (end->head == NULL)
    end->tailp = lastp;
  end->head = end->batch;
  end->head_since = end->batch_since;
  end->ahead_off = 1;
  __atomic_store_n(&end->nqueued, end->nqueued + end->batch_left, __ATOMIC_RELAXED);
  end->batch = NULL;
  end->batch_left = 0;
}

/* end->lock held, on its loop's thread (or with no loop, when done is 0). Takes what the loop delivered
 * since it last looked off pending, and counts it delivered. */
static void take_done_locked(uva__end_t *end) {
  size_t done = atomic_load_explicit(&end->done, memory_order_relaxed);
  size_t done_bytes = atomic_load_explicit(&end->done_bytes, memory_order_relaxed);

  assert(end->pending >= done && end->pending_bytes >= done_bytes);
  end->pending -= done;
  end->pending_bytes -= done_bytes;
  end->delivered += done;
  end->delivered_bytes += done_bytes;
  atomic_store_explicit(&end->done, 0, memory_order_relaxed);
  atomic_store_explicit(&end->done_bytes, 0, memory_order_relaxed);
}

/* end->lock held. Empties the queue, and the batch its loop has not delivered yet, and returns what they
 * held, for the caller to free without the lock. */
static uva_msg_t *steal_queue_locked(uva__end_t *end) {
  uva_msg_t *queue;

  batch_requeue_locked(end);
  take_done_locked(end);
  queue = end->head;
  end->head = NULL;
  end->tailp = &end->head;
  end->dropped += end->pending;
  end->dropped_bytes += end->pending_bytes;
  end->pending = end->pending_bytes = 0;
  __atomic_store_n(&end->nqueued, 0, __ATOMIC_RELAXED);
  return queue;
}

/* Drops n references to the ends' block; the last one frees it. */
static void pair_unref(pair_t *pair, unsigned int n) {
  if (atomic_fetch_sub_explicit(&pair->refs, n, memory_order_acq_rel) != n)
    return;
  uv_mutex_lock(&pairs_lock);
  uva__list_remove(&pair->pairs);
  uv_mutex_unlock(&pairs_lock);
  if (pair->ends[0].peer != NULL)
    end_destroy(&pair->ends[1]);
  end_destroy(&pair->ends[0]);
  free(pair);
}

void uva__end_release(uva__end_t *end) {
  uva_msg_t *left;

  uv_mutex_lock(&end->lock);
  assert(end->loop == NULL); /* detached from its loop before it goes */
  left = steal_queue_locked(end);
  end->released = 1;
  uv_mutex_unlock(&end->lock);
  /* Its last owner lets go: no call of its is pending (they fail as it closes). */
  uva__calls_free(end->calls);
  end->calls = NULL;
  /* Off this end before it can go; freeing (deferred, perhaps) may close ports they carry. */
  uva__transit_depart_all(left);
  free_chain(left);
  pair_unref((pair_t *)end->refs, 1);
}

void uva__end_ref(uva__end_t *end, unsigned int n) {
  atomic_fetch_add_explicit(end->refs, n, memory_order_relaxed);
}

void uva__end_unref(uva__end_t *end, unsigned int n) {
  pair_unref((pair_t *)end->refs, n);
}

static int has_room(const uva__end_t *end, size_t len) {
  return (end->max_pending == 0 || end->pending < end->max_pending) &&
         (end->max_pending_bytes == 0 || end->pending_bytes + len <= end->max_pending_bytes ||
          (end->oversized_ok && end->pending == 0));
}

/* end->lock held. A message too big for the byte bound whatever waits: refused with UV_E2BIG. */
static int too_big(const uva__end_t *end, size_t len) {
  return end->max_pending_bytes != 0 && len > end->max_pending_bytes && !end->oversized_ok;
}

/* end->lock held. Puts a started end on its loop's ready list unless it is there or being delivered; returns
 * the loop to wake once the lock is let go (uva__loop_wake()), or NULL. */
static __attribute__((warn_unused_result)) uva__loop_t *schedule_locked(uva__end_t *end) {
  if (end->loop == NULL || end->queued)
    return NULL;
  end->queued = 1;
  return uva__loop_schedule(end->loop, end);
}

/* end->lock held. Waits on wait's condition, counted in *waiters: 0 once woken, or the wait's error. */
static int wait_locked(uva__wait_t *wait, unsigned int *waiters) {
  int err;

  (*waiters)++;
  err = uva__wait(wait);
  (*waiters)--;
  return err;
}

/* end->lock held. Room for the post that was refused, so that the writable callback's retry fits (a message
 * over the byte limit, after the limits changed, is let through to get its UV_E2BIG). */
static int has_wanted_room(const uva__end_t *end) {
  size_t len = end->room_wanted;

  if (end->max_pending_bytes != 0 && len > end->max_pending_bytes)
    len = end->max_pending_bytes;
  return has_room(end, len);
}

/* end->lock held, after pending went down. Wakes blocked writers; says whether the peer asked to hear (of
 * room, or of the queue drained to the level it named). */
static int room_freed_locked(uva__end_t *end) {
  int drained = end->notify_drain && end->pending <= end->drain_wanted;

  if (drained) {
    end->notify_drain = 0;
    atomic_store_explicit(&end->drain_watch, 0, memory_order_relaxed);
  }
  /* No early return for an unbounded queue: lifting the limits is room too, for whoever still waits. */
  if (!has_room(end, 1))
    return drained;
  if (end->writers_waiting > 0)
    uv_cond_broadcast(&end->writable);
  if (!end->notify_room || !has_wanted_room(end))
    return drained;
  end->notify_room = 0;
  return 1;
}

/* Runs sender's writable callback on its loop. Called with no lock held. */
static void notify_writable(uva__end_t *sender) {
  uva__loop_t *wake = NULL;

  if (sender == NULL)
    return;
  uv_mutex_lock(&sender->lock);
  if (!sender->closed) {
    sender->writable_due = 1;
    wake = schedule_locked(sender);
  }
  uv_mutex_unlock(&sender->lock);
  uva__loop_wake(wake);
}

/* end has room again and someone asked to hear: its peer or, for a broadcast member, its group's posters.
 * Called with no lock held, on end's thread (which alone makes it leave its group). */
static void notify_room_freed(uva__end_t *end) {
  if (end->group != NULL)
    uva__group_room(end->group);
  else
    notify_writable(end->peer);
}

/* end->lock held, the queue empty: the age of its oldest message counts from now (uva__end_stats()). Out
 * of line: one post in a run pays for it, and the post path stays small enough to inline. */
static __attribute__((noinline, cold)) void stamp_queue_locked(uva__end_t *end) {
  end->head_since = uva__clock_coarse();
}

/* Threads blocked on an end are woken after its lock is let go, never under it: a woken thread's first act is
 * to take that lock, and would sleep on it again. Once the lock is let go, the woken thread may close the end
 * and its handle let it go: so the waker takes a reference to the end's memory under the lock, as a loop's
 * waker counts itself in the loop (loop.c), and drops it once it has woken them. */

/* Wakes a reader blocked on end, which append_locked() returned (NULL: none), with no lock held. */
static void wake_reader(uva__end_t *end) {
  if (end == NULL)
    return;
  uv_cond_signal(&end->readable);
  uva__end_unref(end, 1);
}

/* end->lock held, msg about to be appended at place n > 0 of the queue. The loop walks a batch through the
 * messages' links, one message ahead at most: with only a short callback between two messages, the next
 * one's first line, which the poster's core wrote, cannot have come by the time it is needed (at 8
 * producers a quarter of the sink's time was that one load). So the message UVA__QUEUE_AHEAD places before
 * msg gets a link to it, which the loop asks for that many messages early. Only while nothing has left the
 * queue but all of it (a receive, a reply taken, a batch put back: ahead_off): then every place since it was
 * empty holds the message appended there. The poster wrote the line it links from when it appended the
 * message after that one, and no reader has it yet. */
static inline void link_ahead_locked(uva__end_t *end, uva_msg_t *msg, size_t n) {
  size_t slot = n % UVA__QUEUE_AHEAD;

  if (end->ahead_off)
    return;
  if (n >= UVA__QUEUE_AHEAD)
    (n == UVA__QUEUE_AHEAD ? end->head : end->ahead_from[slot])->ahead = msg;
  end->ahead_from[slot] = msg;
}

/* end->lock held. Appends msg; returns the loop it is started on, to wake (uva__loop_wake()), or NULL, and
 * sets *reader to end if a reader is blocked on it (wake_reader()); both once the caller lets go of the lock.
 */
static inline uva__loop_t *append_locked(uva__end_t *end, uva_msg_t *msg, uva__end_t **reader) {
  if (end->nqueued == 0) {
    stamp_queue_locked(end);
    end->ahead_off = 0;
  } else {
    link_ahead_locked(end, msg, end->nqueued);
  }
  msg->next = NULL;
  msg->ahead = NULL;
  *end->tailp = msg;
  end->tailp = &msg->next;
  __atomic_store_n(&end->nqueued, end->nqueued + 1, __ATOMIC_RELAXED); /* watched (uva__end_dequeue()) */
  end->pending++;
  end->pending_bytes += msg->len;
  if (end->pending > end->high_water)
    end->high_water = end->pending;
  if (end->pending_bytes > end->high_water_bytes)
    end->high_water_bytes = end->pending_bytes;
  if (end->readers_waiting > 0 && *reader == NULL) { /* one reference, however many are appended */
    uva__end_ref(end, 1);
    *reader = end;
  }
  return schedule_locked(end);
}

/* end->lock held. 0 if msg may be appended now (and it is marked arrived, uva__transit_arrive()), or why
 * not: UV_EAGAIN when only room is missing. Changes nothing else. */
static int admit_locked(uva__end_t *end, uva_msg_t *msg) {
  if (end->closed)
    return UV_EPIPE;
  if (too_big(end, msg->len) || (end->max_part != 0 && uva__msg_largest_part(msg) > end->max_part))
    return UV_E2BIG;
  if (!has_room(end, msg->len))
    return UV_EAGAIN;
  return uva__transit_arrive(end, msg);
}

int uva__end_enqueue(uva__end_t *end, uva_msg_t *msg, int64_t timeout_ms, const unsigned int *poster) {
  uva__loop_t *wake = NULL;
  uva__end_t *reader = NULL;
  uva__wait_t wait;
  int err = 0;

  if (uva__end_inherited(end))
    return UVA_EFORKED;
  if (timeout_ms != 0)
    uva__wait_begin(&wait, &end->lock, &end->writable, timeout_ms);
  uv_mutex_lock(&end->lock);
  for (;;) {
    err = admit_locked(end, msg);
    if (err != UV_EAGAIN)
      break;
    if (timeout_ms == 0) {
      end->room_wanted = msg->len;
      end->refused++;
      break;
    }
    /* The handle posting was closed or transferred while it waited: that wakes this wait (uva__end_
     * wake_writers()), so that the close or transfer, which waits for posts under way, does not hang. */
    if (!uva__state_may_post(__atomic_load_n(poster, __ATOMIC_SEQ_CST))) {
      err = UVA__END_RETIRED;
      break;
    }
    err = wait_locked(&wait, &end->writers_waiting);
    if (err == UV_ETIMEDOUT)
      end->refused++;
    if (err != 0)
      break;
  }
  if (err == 0)
    wake = append_locked(end, msg, &reader);
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
  wake_reader(reader);
  if (timeout_ms != 0)
    uva__wait_end(&wait);
  return err;
}

int uva__end_enqueue_many(uva__end_t *end, uva_msg_t *const *msgs, size_t n, size_t *posted) {
  uva__loop_t *wake = NULL;
  uva__loop_t *woken;
  uva__end_t *reader = NULL;
  size_t i;
  int err = 0;

  if (uva__end_inherited(end))
    return UVA_EFORKED;
  uv_mutex_lock(&end->lock);
  for (i = 0; i < n && (err = admit_locked(end, msgs[i])) == 0; i++) {
    woken = append_locked(end, msgs[i], &reader); /* the first append schedules the end, no later one */
    if (woken != NULL)
      wake = woken;
  }
  if (i == 0 && err == UV_EAGAIN) {
    end->room_wanted = msgs[0]->len;
    end->refused++;
  }
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
  wake_reader(reader);
  *posted = i;
  return i > 0 ? 0 : err;
}

void uva__end_wake_posters(uva__end_t *end) {
  uva__end_t *dest = end->peer;

  if (dest == NULL) {
    if (end->group != NULL)
      uva__group_wake(end->group);
    return;
  }
  uv_mutex_lock(&dest->lock);
  if (dest->writers_waiting > 0)
    uv_cond_broadcast(&dest->writable);
  uv_mutex_unlock(&dest->lock);
}

/* end->lock held. msg, just unlinked from the queue or the batch, no longer counts in the bounds: it is
 * delivered. */
static void taken_locked(uva__end_t *end, uva_msg_t *msg) {
  msg->next = NULL;
  assert(end->pending > 0 && end->pending_bytes >= msg->len);
  end->pending--;
  end->pending_bytes -= msg->len;
  end->delivered++;
  end->delivered_bytes += msg->len;
}

/* This thread's receive spins back off when they keep missing (common/spin.h). */
static __thread uva__spin_backoff_t receive_backoff __attribute__((tls_model("initial-exec")));

/* What a blocked reader watches for without the lock: a message, the close, or its actor's terminate. */
static int readable(const void *arg) {
  const uva__end_t *end = arg;

  return __atomic_load_n(&end->nqueued, __ATOMIC_RELAXED) != 0 ||
         __atomic_load_n(&end->closed, __ATOMIC_RELAXED) || uva__cancel_thread_fired();
}

/* end->lock held, the queue empty. Lets go of the lock and watches end for up to its spin window (never past
 * the wait's deadline) before the reader sleeps: a message that comes that soon costs the poster no wakeup
 * and the reader no sleep. */
static void spin_readable_locked(uva__end_t *end, const uva__wait_t *wait) {
  uint64_t ns = end->spin_ns;
  uint64_t now, left;

  if (wait->timeout_ms > 0) {
    now = uv_hrtime();
    left = wait->deadline > now ? wait->deadline - now : 0;
    if (left < ns)
      ns = left;
  }
  uv_mutex_unlock(&end->lock);
  uva__spin(ns, &receive_backoff, readable, end);
  uv_mutex_lock(&end->lock);
}

int uva__end_dequeue(uva__end_t *end, uva_msg_t **msgp, int64_t timeout_ms) {
  uva__wait_t wait;
  uva_msg_t *msg = NULL;
  uva_msg_t *replies = NULL;
  uva_msg_t **replies_tail = &replies;
  int spun = 0;
  int notify = 0;
  int err = 0;

  if (timeout_ms != 0)
    uva__wait_begin(&wait, &end->lock, &end->readable, timeout_ms);
  uv_mutex_lock(&end->lock);
  for (;;) {
    /* Called on a started end's own thread, possibly from its message callback: a batch being delivered is
     * older than the queue, so it comes first. */
    if (end->batch != NULL) {
      msg = end->batch;
      end->batch = msg->next;
      end->batch_left--;
    } else {
      while (end->head == NULL) {
        if (end->closed)
          err = UV_EPIPE;
        else if (timeout_ms == 0)
          err = UV_EAGAIN;
        else if (!spun) {
          spun = 1;
          spin_readable_locked(end, &wait);
          continue;
        } else
          err = wait_locked(&wait, &end->readers_waiting);
        if (err != 0)
          goto out;
      }
      msg = end->head;
      end->head = msg->next;
      if (end->head == NULL)
        end->tailp = &end->head;
      end->ahead_off = 1;
      __atomic_store_n(&end->nqueued, end->nqueued - 1, __ATOMIC_RELAXED);
    }
    taken_locked(end, msg);
    if (msg->call_kind != UVA__CALL_REPLY)
      break;
    /* A reply is its call's, never the receiver's (channel/call.c routes it). */
    *replies_tail = msg;
    replies_tail = &msg->next;
    msg = NULL;
  }
out:
  if (msg != NULL || replies != NULL)
    notify = room_freed_locked(end);
  uv_mutex_unlock(&end->lock);
  if (timeout_ms != 0)
    uva__wait_end(&wait);
  if (notify)
    notify_room_freed(end);
  if (replies != NULL) {
    uva__transit_depart_all(replies);
    uva__calls_route(end, replies);
  }
  if (msg == NULL)
    return err;
  uva__transit_depart(msg);
  *msgp = msg;
  return 0;
}

int uva__end_take_reply(uva__end_t *end, uint64_t id, int64_t timeout_ms, uva_msg_t **msgp,
                        uva_msg_t **late) {
  uva__wait_t wait;
  uva_msg_t **scan = &end->head; /* what lies before it was looked at: not replies */
  uva_msg_t *late_head = NULL;
  uva_msg_t **late_tail = &late_head;
  uva_msg_t *msg = NULL;
  uva_msg_t *m;
  int taken = 0;
  int notify = 0;
  int err = 0;

  if (timeout_ms != 0)
    uva__wait_begin(&wait, &end->lock, &end->readable, timeout_ms);
  uv_mutex_lock(&end->lock);
  assert(end->batch == NULL); /* not started: only this thread takes messages out, so scan stays valid */
  while (msg == NULL) {
    while ((m = *scan) != NULL) {
      if (m->call_kind != UVA__CALL_REPLY) {
        scan = &m->next;
        continue;
      }
      *scan = m->next;
      if (end->tailp == &m->next)
        end->tailp = scan;
      end->ahead_off = 1;
      __atomic_store_n(&end->nqueued, end->nqueued - 1, __ATOMIC_RELAXED);
      taken_locked(end, m);
      taken = 1;
      if (m->call_id == id) {
        msg = m;
        break;
      }
      *late_tail = m;
      late_tail = &m->next;
    }
    if (msg != NULL)
      break;
    if (end->closed)
      err = UV_EPIPE;
    else if (timeout_ms == 0)
      err = uva__wait_refused(); /* the wait rule: UV_ECANCELED on an ending actor's thread */
    else
      err = wait_locked(&wait, &end->readers_waiting);
    if (err != 0)
      break;
  }
  if (taken)
    notify = room_freed_locked(end);
  uv_mutex_unlock(&end->lock);
  if (timeout_ms != 0)
    uva__wait_end(&wait);
  if (notify)
    notify_room_freed(end);
  uva__transit_depart_all(late_head);
  *late = late_head;
  if (msg == NULL)
    return err;
  uva__transit_depart(msg);
  *msgp = msg;
  return 0;
}

int uva__end_push_owed(uva__end_t *end, uva_msg_t *msg, unsigned int unref) {
  uva__loop_t *wake = NULL;
  uva__end_t *reader = NULL;
  int err;

  if (uva__end_inherited(end))
    return UVA_EFORKED;
  uv_mutex_lock(&end->lock);
  if (end->closed)
    err = UV_EPIPE;
  else
    err = uva__transit_arrive(end, msg);
  if (err == 0) {
    wake = append_locked(end, msg, &reader);
    /* Not the last reference: the end is open, so its handle holds one. */
    atomic_fetch_sub_explicit(end->refs, unref, memory_order_release);
  }
  uv_mutex_unlock(&end->lock);
  /* end may be gone by now (its handle let go of it): the wake needs only the loop, which waits for it, and
   * the reader's the reference it took. */
  uva__loop_wake(wake);
  wake_reader(reader);
  return err;
}

/* uva__end_each_reply() over one chain: 1 once fn returned nonzero. */
static int each_reply_in(uva_msg_t *msg, int (*fn)(void *arg, uint64_t call_id), void *arg) {
  for (; msg != NULL; msg = msg->next)
    if (msg->call_kind == UVA__CALL_REPLY && fn(arg, msg->call_id))
      return 1;
  return 0;
}

void uva__end_each_reply(uva__end_t *end, int (*fn)(void *arg, uint64_t call_id), void *arg) {
  uv_mutex_lock(&end->lock);
  /* The batch first: it is older than the queue. */
  if (!each_reply_in(end->batch, fn, arg))
    (void)each_reply_in(end->head, fn, arg);
  uv_mutex_unlock(&end->lock);
}

void uva__end_calls_due(uva__end_t *end) {
  uva__loop_t *wake;

  uv_mutex_lock(&end->lock);
  end->calls_due = 1;
  wake = schedule_locked(end);
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
}

static void close_one(uva__end_t *end) {
  uva__loop_t *wake = NULL;
  int blocked = 0;

  uv_mutex_lock(&end->lock);
  if (!end->closed) {
    __atomic_store_n(&end->closed, 1, __ATOMIC_RELAXED); /* watched, as nqueued */
    blocked = end->readers_waiting > 0 || end->writers_waiting > 0;
    if (blocked)
      uva__end_ref(end, 1); /* woken after the unlock */
    wake = schedule_locked(end);
  }
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
  if (blocked) {
    uv_cond_broadcast(&end->readable);
    uv_cond_broadcast(&end->writable);
    uva__end_unref(end, 1);
  }
}

void uva__end_close(uva__end_t *end) {
  close_one(end);
  if (end->peer != NULL)
    close_one(end->peer);
}

int uva__end_start(uva__end_t *end, uv_loop_t *uvloop, void *handle, const uva__end_ops_t *ops) {
  uva__loop_t *wake = NULL;
  uva__loop_t *loop;
  int err;

  err = uva__loop_attach(uvloop, end, &loop);
  if (err != 0)
    return err;
  end->handle = handle;
  end->ops = ops;
  end->keeps_alive = 1;
  uva__loop_ref(loop, 1);
  uv_mutex_lock(&end->lock);
  assert(end->loop == NULL);
  __atomic_store_n(&end->loop, loop, __ATOMIC_RELAXED); /* atomic for the peer's poster (port.c) */
  if (end->head != NULL || end->closed || end->writable_due)
    wake = schedule_locked(end);
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
  return 0;
}

/* Leaves the loop: off its lists, its refs and its delivery. Called on the loop's thread. */
static void end_leave_loop(uva__loop_t *loop, uva__end_t *end) {
  if (end->calls != NULL)
    uva__calls_leave_loop(end);
  if (end->keeps_alive)
    uva__loop_ref(loop, -1);
  end->keeps_alive = 0;
  end->handle = NULL;
  end->ops = NULL;
  uva__loop_stop_delivering(loop, end);
  uva__loop_detach(loop, end);
}

void uva__end_stop(uva__end_t *end) {
  uva__loop_t *loop = end->loop;
  int notify;

  uv_mutex_lock(&end->lock);
  if (end->queued) {
    uva__loop_unschedule(loop, end);
    end->queued = 0;
  }
  /* Stopped from its own message callback, or after a turn that left part of its batch: the next owner
   * delivers that part first. */
  batch_requeue_locked(end);
  take_done_locked(end);
  __atomic_store_n(&end->loop, NULL, __ATOMIC_RELAXED);
  end->writable_due = end->calls_due = 0;
  end->paused = 0;
  notify = room_freed_locked(end);
  uv_mutex_unlock(&end->lock);
  end_leave_loop(loop, end);
  if (notify)
    notify_room_freed(end);
}

void uva__end_set_spin(uva__end_t *end, uint64_t spin_ns) {
  if (end->loop != NULL)
    uva__loop_set_spin(end->loop, end, spin_ns);
  else
    end->spin_ns = spin_ns;
}

void uva__end_pause(uva__end_t *end, int on) {
  uva__loop_t *wake = NULL;

  if (end->paused == (on != 0))
    return;
  end->paused = on != 0;
  if (on)
    return;
  uv_mutex_lock(&end->lock);
  if (end->head != NULL || end->batch != NULL || end->closed || end->writable_due)
    wake = schedule_locked(end);
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
}

void uva__end_set_ref(uva__end_t *end, int ref) {
  if (end->keeps_alive == (ref != 0))
    return;
  end->keeps_alive = ref != 0;
  uva__loop_ref(end->loop, ref ? 1 : -1);
}

/* Asks for the writable callback once end's peer holds at most drain_to messages (drain), or has room: one
 * request at a time, each replaces the other kind's. Told at once if it holds already. */
static int want(uva__end_t *end, int drain, size_t drain_to) {
  uva__end_t *dest = end->peer;
  int now;

  if (dest == NULL)
    return UV_EINVAL;
  uv_mutex_lock(&dest->lock);
  if (dest->closed) {
    uv_mutex_unlock(&dest->lock);
    return UV_EPIPE;
  }
  if (!drain) {
    now = has_wanted_room(dest);
    if (!now)
      dest->notify_room = 1;
    dest->notify_drain = 0;
  } else {
    now = dest->pending <= drain_to;
    dest->notify_room = 0;
    dest->notify_drain = !now;
    dest->drain_wanted = drain_to;
  }
  atomic_store_explicit(&dest->drain_watch, dest->notify_drain, memory_order_relaxed);
  uv_mutex_unlock(&dest->lock);
  if (now)
    notify_writable(end);
  return 0;
}

int uva__end_want_writable(uva__end_t *end) {
  return want(end, 0, 0);
}

int uva__end_want_drain(uva__end_t *end, size_t max_messages) {
  return want(end, 1, max_messages);
}

void uva__end_admit_oversized(uva__end_t *end, int on) {
  int notify;

  uv_mutex_lock(&end->lock);
  end->oversized_ok = on != 0;
  notify = room_freed_locked(end);
  uv_mutex_unlock(&end->lock);
  if (notify)
    notify_room_freed(end);
}

void uva__end_set_max_part(uva__end_t *end, size_t max) {
  uv_mutex_lock(&end->lock);
  end->max_part = max;
  uv_mutex_unlock(&end->lock);
}

void uva__end_set_limits(uva__end_t *end, size_t max_messages, size_t max_bytes) {
  int notify;

  uv_mutex_lock(&end->lock);
  end->max_pending = max_messages;
  end->max_pending_bytes = max_bytes;
  notify = room_freed_locked(end);
  uv_mutex_unlock(&end->lock);
  if (notify)
    notify_room_freed(end);
}

/* Delivered everything and the channel is closed: leave the loop, then tell the handle. */
static void finish_close(uva__loop_t *loop, uva__end_t *end) {
  const uva__end_ops_t *ops = end->ops;
  void *handle = end->handle;

  uv_mutex_lock(&end->lock);
  if (end->queued)
    uva__loop_unschedule(loop, end);
  __atomic_store_n(&end->loop, NULL, __ATOMIC_RELAXED);
  end->queued = 0;
  uv_mutex_unlock(&end->lock);
  end_leave_loop(loop, end);
  /* The handle retires (waiting out posts under way through it) before its end can be freed. */
  ops->closed(handle);
  uva__end_release(end);
}

void uva__end_abort(uva__loop_t *loop, uva__end_t *end) {
  uva_msg_t *dropped;

  uv_mutex_lock(&end->lock);
  dropped = steal_queue_locked(end);
  __atomic_store_n(&end->closed, 1, __ATOMIC_RELAXED);
  uv_mutex_unlock(&end->lock);
  uva__transit_depart_all(dropped);
  if (end->peer != NULL)
    close_one(end->peer);
  free_chain(dropped);
  finish_close(loop, end);
}

/* end->lock held, the batch empty. Moves the whole queue into the batch: O(1), so the lock is held for a
 * moment however long the queue, and the sender is never kept waiting while the list is walked. */
static void take_batch_locked(uva__end_t *end) {
  end->batch = end->head;
  end->batch_since = end->head_since;
  end->batch_left = end->nqueued;
  end->head = NULL;
  end->tailp = &end->head;
  __atomic_store_n(&end->nqueued, 0, __ATOMIC_RELAXED);
}

/* A turn's share of one end (what the loop's fairness rule allows): at most DELIVER_MAX_PER_TURN messages,
 * and no more once DELIVER_TURN_NS have gone by in its callbacks (looked at every DELIVER_CLOCK_EVERY
 * messages, so the clock costs nothing on a fast stream). The callbacks of its calls that completed out of
 * the delivery (timed out, cancelled) count as messages (uva__end_share_take()). */
#define DELIVER_MAX_PER_TURN 1000
#define DELIVER_TURN_NS 1000000
#define DELIVER_CLOCK_EVERY 16

/* What the delivery of an end does next. */
enum { STEP_MESSAGES, STEP_WRITABLE, STEP_CALLS, STEP_CLOSE, STEP_IDLE, STEP_YIELD };

/* [loop] Starts the end's share of this turn of its loop, if this is the turn's first delivery of it. */
static void share_begin(uva__loop_t *loop, uva__end_t *end) {
  unsigned int turn = uva__loop_turn(loop);

  if (end->share_turn == turn)
    return;
  end->share_turn = turn;
  end->share_used = 0;
  end->share_wrote = 0;
}

/* [loop] Whether the end has used its share of this turn. The clock starts at the last look before the
 * first message, so a turn always delivers one at least: on a machine slow enough that a millisecond passes
 * between two looks, a clock started earlier would yield every turn with nothing delivered. */
static int share_spent(uva__end_t *end) {
  if (end->share_used >= DELIVER_MAX_PER_TURN)
    return 1;
  if (end->share_used % DELIVER_CLOCK_EVERY != 0)
    return 0;
  if (end->share_used == 0) {
    end->share_start = uv_hrtime();
    return 0;
  }
  return uv_hrtime() - end->share_start >= DELIVER_TURN_NS;
}

int uva__end_share_take(uva__end_t *end) {
  if (share_spent(end))
    return 0;
  end->share_used++;
  return 1;
}

/* end->lock held. Takes what the loop delivered since it last looked off what the bounds count; whether the
 * writers that asked to hear of room should be told. */
static int settle_locked(uva__end_t *end) {
  take_done_locked(end);
  return room_freed_locked(end);
}

/* Decides, under the lock, what the delivery of end does next. A yielding or idle end leaves the loop's
 * ready list in the state its next turn needs. One delivery takes one batch (may_take: none yet): what was
 * queued when it began. What comes while it runs waits for the loop's next round, which on a loop that does
 * not spin is its next turn: taken again at once, a stream that the loop keeps up with would come a few
 * messages at a time, and the poster would take the queue's lines back from this core for every few
 * (docs/benchmarks.md, "One batch a delivery"). */
static int next_step(uva__loop_t *loop, uva__end_t *end, int may_take) {
  uva__loop_t *wake = NULL;
  int notify;
  int step;

  uv_mutex_lock(&end->lock);
  notify = settle_locked(end);
  if (end->batch == NULL && may_take)
    take_batch_locked(end);
  if (((end->batch != NULL && !end->paused) || end->calls_due) && share_spent(end)) {
    /* The rest waits for the next turn, after the loop's timers, I/O and other ends (the end stays queued).
     */
    wake = uva__loop_schedule(loop, end);
    uva__loop_note_yield(loop);
    step = STEP_YIELD;
  } else if (end->writable_due && !end->share_wrote) {
    /* One writable callback per turn: one that asks again while there is room runs on the next turn. */
    end->writable_due = 0;
    end->share_wrote = 1;
    step = STEP_WRITABLE;
  } else if (end->calls_due) {
    end->calls_due = 0;
    step = STEP_CALLS;
  } else if (end->batch != NULL && !end->paused) {
    step = STEP_MESSAGES;
  } else if (end->nqueued > 0 && !end->paused) {
    wake = uva__loop_schedule(loop, end); /* came during this delivery: the next round's */
    step = STEP_IDLE;
  } else if (end->closed && !end->paused) {
    step = STEP_CLOSE;
  } else {
    /* Nothing to do, or paused: a resume schedules the end again. */
    if (end->writable_due)
      wake = uva__loop_schedule(loop, end);
    else
      end->queued = 0;
    step = STEP_IDLE;
  }
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
  if (notify)
    notify_room_freed(end);
  return step;
}

/* [loop] A sender waits for the queue to drain (uva_port_on_drain()): what the batch delivered so far leaves
 * pending now, not at the batch's end, so that the sender hears of it while the batch runs. */
static void settle_for_drain(uva__end_t *end) {
  int notify;

  uv_mutex_lock(&end->lock);
  notify = settle_locked(end);
  uv_mutex_unlock(&end->lock);
  if (notify)
    notify_room_freed(end);
}

/* Delivers the batch, in order, until it is empty or the share is spent. Each callback may close, transfer
 * or receive on this end; 0 once the end has left the loop's delivery (the caller then stops). */
static int deliver_batch(uva__loop_t *loop, uva__end_t *end) {
  uva_msg_t *msg;

  while ((msg = end->batch) != NULL && !end->paused && uva__end_share_take(end)) {
    end->batch = msg->next;
    /* The batch is a list another core wrote: start loading the next message while this one runs: its
     * header, its body if small (the view is built from it), and the line its view is written to. */
    if (msg->next != NULL) {
      __builtin_prefetch(msg->next);
      __builtin_prefetch(msg->next->buf_inline);
      uva__prefetch_write(&msg->next->root);
    }
    if (msg->ahead != NULL) /* its link, a few messages on (link_ahead_locked()) */
      __builtin_prefetch(msg->ahead);
    end->batch_left--;
    msg->next = NULL;
    uva__counter_add(&end->done, 1);
    uva__counter_add(&end->done_bytes, (int64_t)msg->len);
    uva__transit_depart(msg);
    end->ops->message(end->handle, msg);
    if (!uva__loop_is_delivering(loop, end))
      return 0;
    if (end->share_used % DELIVER_CLOCK_EVERY == 0 &&
        atomic_load_explicit(&end->drain_watch, memory_order_relaxed))
      settle_for_drain(end);
  }
  return 1;
}

void uva__end_deliver(uva__loop_t *loop, uva__end_t *end) {
  int delivered = 0;

  share_begin(loop, end);
  for (;;) {
    switch (next_step(loop, end, !delivered)) {
    case STEP_MESSAGES:
      delivered = 1;
      if (!deliver_batch(loop, end))
        return;
      break;
    case STEP_WRITABLE:
      end->ops->writable(end->handle);
      if (!uva__loop_is_delivering(loop, end))
        return;
      break;
    case STEP_CALLS:
      if (!uva__calls_run_due(loop, end))
        return;
      break;
    case STEP_CLOSE:
      finish_close(loop, end);
      return;
    default: /* STEP_IDLE, STEP_YIELD */
      return;
    }
  }
}

int uva__end_check_room(uva__end_t *end, size_t len, int watch) {
  int err = 0;

  uv_mutex_lock(&end->lock);
  /* A closed end refuses its copy when it comes: nothing to wait for. */
  if (!end->closed && too_big(end, len))
    err = UV_E2BIG;
  else if (!end->closed && !has_room(end, len))
    err = UV_EAGAIN;
  /* One flag for every poster watching: room for the smallest wakes the group, which checks them all. */
  if (err == UV_EAGAIN && watch) {
    if (!end->notify_room || len < end->room_wanted)
      end->room_wanted = len;
    end->notify_room = 1;
  }
  uv_mutex_unlock(&end->lock);
  return err;
}

int uva__end_push(uva__end_t *end, uva_msg_t *msg) {
  uva__loop_t *wake = NULL;
  uva__end_t *reader = NULL;
  int err = 0;

  uv_mutex_lock(&end->lock);
  if (end->closed)
    err = UV_EPIPE;
  else
    wake = append_locked(end, msg, &reader);
  uv_mutex_unlock(&end->lock);
  uva__loop_wake(wake);
  wake_reader(reader);
  return err;
}

void uva__end_notify_writable(uva__end_t *end) {
  notify_writable(end);
}

void uva__end_note_refused(uva__end_t *end, size_t len) {
  uv_mutex_lock(&end->lock);
  if (!end->closed && !has_room(end, len))
    end->refused++;
  uv_mutex_unlock(&end->lock);
}

/* end->lock held. Messages posted and not delivered: pending, but what the loop delivered since it last
 * settled. done only grows while the lock is held (it is taken off under the lock), and a read may see an
 * older value, never a newer one: so this is at least what waits, and what it adds was waiting a moment ago.
 */
static void queued_locked(uva__end_t *end, uint64_t *queued, uint64_t *queued_bytes) {
  *queued = end->pending - atomic_load_explicit(&end->done, memory_order_relaxed);
  *queued_bytes = end->pending_bytes - atomic_load_explicit(&end->done_bytes, memory_order_relaxed);
}

void uva__end_stats(uva__end_t *end, uva_queue_stats_t *out) {
  uint64_t since = 0;

  memset(out, 0, sizeof(*out));
  uv_mutex_lock(&end->lock);
  queued_locked(end, &out->queued, &out->queued_bytes);
  out->pending = end->pending;
  out->high_water = end->high_water;
  out->high_water_bytes = end->high_water_bytes;
  out->delivered = end->delivered + (end->pending - out->queued);
  out->delivered_bytes = end->delivered_bytes + (end->pending_bytes - out->queued_bytes);
  out->posted = end->delivered + end->dropped + end->pending;
  out->posted_bytes = end->delivered_bytes + end->dropped_bytes + end->pending_bytes;
  out->refused = end->refused;
  /* Past the list (nqueued), what waits is in the batch its loop took, older than the list. */
  if (out->queued > end->nqueued)
    since = end->batch_since;
  else if (end->nqueued > 0)
    since = end->head_since;
  uv_mutex_unlock(&end->lock);
  if (since != 0) {
    uint64_t now = uva__clock_coarse();
    out->oldest_ns = now > since ? now - since : 0;
  }
}

void uva__ends_total(uva__ends_total_t *out) {
  uva__link_t *link;
  pair_t *pair;
  uint64_t queued;
  uint64_t queued_bytes;
  unsigned int i;
  unsigned int n;

  memset(out, 0, sizeof(*out));
  uv_mutex_lock(&pairs_lock);
  uva__list_foreach(link, &pairs) {
    pair = PAIR_OF(link);
    /* A forked child's inherited ends are the parent's: their locks may be held by threads it has not. */
    if (uva__end_inherited(&pair->ends[0]))
      continue;
    n = pair->ends[0].peer != NULL ? 2 : 1;
    for (i = 0; i < n; i++) {
      uva__end_t *end = &pair->ends[i];

      uv_mutex_lock(&end->lock);
      if (!end->released) {
        queued_locked(end, &queued, &queued_bytes);
        out->queued += queued;
        out->queued_bytes += queued_bytes;
        if (n == 2)
          out->ports++;
        else
          out->members++;
      }
      uv_mutex_unlock(&end->lock);
    }
  }
  uv_mutex_unlock(&pairs_lock);
}
