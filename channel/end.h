/* Internal: one side of a channel (an "end"): its incoming queue and how a loop delivers it.
 *
 * Locks. end->lock protects the fields marked [lock]; loop->lock protects a loop's ready list. The only
 * nesting is end->lock, then loop->lock (a post scheduling its end), or group->lock, then end->lock
 * (broadcast). Two end locks are never held together. Fields marked [loop] belong to the thread of the loop
 * the end is started on. No system call to wake a loop is made under end->lock: scheduling returns the loop
 * to wake, counted in its wakers so that it stays open, and the caller wakes it once the lock is let go
 * (loop.c says why and how).
 */
#ifndef UVA_CHANNEL_END_H
#define UVA_CHANNEL_END_H

#include <stdatomic.h>

#include "channel/cancel.h"
#include "common/alloc.h"
#include "common/list.h"
#include "serialize/message.h"

/* The states every port and broadcast handle goes through (endpoint.c checks calls against them). Odd values,
 * so a zeroed or never-initialized handle is refused rather than used. */
enum {
  UVA__HANDLE_NEW = 0x75610001,
  UVA__HANDLE_STARTED,
  UVA__HANDLE_CLOSING,
  UVA__HANDLE_CLOSED, /* closed by its owner (uva_port_close()), close callback run */
  UVA__HANDLE_TRANSFERRED,
  UVA__HANDLE_DISCONNECTED /* closed because the other side closed, close callback run: posts get EPIPE */
};

/* The process generation (fork.c): a fork() makes a new one in the child. */
extern unsigned int uva__fork_generation;

/* Whether a handle in state may post. */
static inline int uva__state_may_post(unsigned int state) {
  return state == UVA__HANDLE_NEW || state == UVA__HANDLE_STARTED;
}

/* How far ahead of the message it delivers a loop asks for a queued message's first line (end.c's
 * link_ahead_locked()). */
#define UVA__QUEUE_AHEAD 4

/* What false sharing is measured in: fields two threads write apart live this far apart. */
#define UVA__CACHE_LINE 64

typedef struct uva__loop_s uva__loop_t;
typedef struct uva__end_s uva__end_t;
typedef struct uva__group_s uva__group_t;

/* What the loop calls on the handle an end is started with. */
typedef struct {
  void (*message)(void *handle, uva_msg_t *msg);
  void (*writable)(void *handle);
  void (*closed)(void *handle);
} uva__end_ops_t;

struct uva__end_s {
  uv_mutex_t lock;
  unsigned int generation; /* the process generation the pair was made in (fork.c); beside the lock,
                              which a post takes anyway, so that checking it costs no cache miss */
  uv_cond_t readable;      /* signalled when a message arrives or the channel closes */
  uv_cond_t writable;      /* signalled when the queue gets room or the channel closes */
  uva__end_t *peer;        /* the other end, or NULL (a broadcast member); fixed at creation */
  atomic_uint *refs;       /* references to the pair this end belongs to: its live ends, and the calls'
                              (requests on their way, and those call.c keeps in reserve) */

  uva_msg_t *head;               /* [lock] the queue */
  uva_msg_t **tailp;             /* [lock] */
  size_t nqueued;                /* [lock] messages in the queue (stored atomically: a blocked reader
                                    watches it without the lock, uva__end_dequeue()) */
  size_t pending;                /* [lock] queued + being delivered: what the limits bound */
  size_t pending_bytes;          /* [lock] */
  size_t high_water;             /* [lock] the most pending has been: the post that raises it holds the
                                    line already, so the stats cost posts no other */
  size_t high_water_bytes;       /* [lock] */
  uint64_t head_since;           /* [lock] uva__clock_coarse() when the queue last went from empty to not */
  size_t max_pending;            /* [lock] 0: unbounded */
  size_t max_pending_bytes;      /* [lock] 0: unbounded */
  size_t max_part;               /* [lock] 0: no cap; else a message whose body or one moved buffer is
                                    longer is refused (uva_port_set_max_message()) */
  size_t room_wanted;            /* [lock] bytes of the last post refused with UV_EAGAIN */
  size_t drain_wanted;           /* [lock] with notify_drain: the pending count the peer waits for */
  atomic_uint drain_watch;       /* notify_drain, for the loop to read without the lock: while it is set,
                                    the loop settles what it delivered every few messages of a batch */
  unsigned int readers_waiting;  /* [lock] */
  unsigned int writers_waiting;  /* [lock] */
  unsigned int closed;           /* [lock] nothing more enters the queue (stored atomically, as nqueued) */
  unsigned int queued : 1;       /* [lock] on its loop's ready list, or being delivered */
  unsigned int notify_room : 1;  /* [lock] the peer asked to hear when this queue has room */
  unsigned int notify_drain : 1; /* [lock] the peer asked to hear when pending is down to drain_wanted */
  unsigned int oversized_ok : 1; /* [lock] a message over max_pending_bytes enters an empty queue */
  unsigned int writable_due : 1; /* [lock] this end's writable callback is to run */
  unsigned int calls_due : 1; /* [lock] calls made through this end completed; their callbacks are to run */
  unsigned int ahead_off : 1; /* [lock] a message left the queue other than by the whole: no ahead links
                                 until it is empty again (end.c's link_ahead_locked()) */
  uva__loop_t *loop;          /* [lock] the loop it is started on, or NULL; stored atomically, so that the
                                 peer's poster may look without the lock (port.c's note_posted()) */

  void *handle;                 /* [loop] the handle it is started with */
  const uva__end_ops_t *ops;    /* [loop] */
  unsigned int keeps_alive : 1; /* [loop] counted in the loop's refs */
  unsigned int share_wrote : 1; /* [loop] its writable callback ran in this turn */
  unsigned int paused : 1;      /* [loop] uva_port_pause(): messages and the close wait for a resume */
  uint64_t spin_ns;             /* [loop] how long its loop may watch for messages before sleeping */
  uva_msg_t *ahead_from[UVA__QUEUE_AHEAD]; /* [lock] the queue's last messages by place modulo the distance
                                              (but the first), each to get its ahead link */

  /* What the loop's thread writes for every message it delivers: a cache line of its own (the block of ends
   * is allocated so aligned), away from the lock, the queue, loop and the flags that every post reads and
   * writes, so that delivering does not pull the posters' line to the loop's core once per message. */
  _Alignas(UVA__CACHE_LINE) uva_msg_t *batch; /* [loop] taken from the queue, not yet delivered (kept past
                                                 a turn whose fair share it exceeds) */
  size_t batch_left;                          /* [loop] messages in batch */
  _Atomic uint64_t done;       /* [loop] delivered, not yet taken off pending; other threads read it
                                  (uva__end_stats()): common/counter.h */
  _Atomic uint64_t done_bytes; /* [loop] */
  size_t share_used;           /* [loop] messages delivered in that turn */
  unsigned int share_turn;     /* [loop] the loop turn share_* count */
  uint64_t share_start;        /* [loop] uv_hrtime() at the last look before its first message */
  uva__link_t ready;           /* [loop->lock] in its loop's ready list or delivery list */
  uva__link_t attached;        /* [loop] in its loop's list of started ends */

  uva_msg_t *transit_msg;     /* [transit.c's lock] the message carrying it, or NULL */
  struct uva__calls_s *calls; /* [owner] the calls made through it (channel/call.c), or NULL; freed with
                                 it, so a late reply always finds what to be counted in */

  /* What uva_port_stats() reads. Every message posted is counted in exactly one of delivered, dropped and
   * pending (so posted is their sum, and no post counts it), a delivered one first in done. */
  uint64_t delivered;       /* [lock] delivered (or received) and taken off pending */
  uint64_t delivered_bytes; /* [lock] */
  uint64_t dropped;         /* [lock] freed unread: the end closed with them queued */
  uint64_t dropped_bytes;   /* [lock] */
  uint64_t refused;         /* [lock] posts the bounds turned away (UV_EAGAIN, or a wait for room that
                               timed out) */
  uint64_t batch_since;     /* [lock] head_since of the messages in batch */
  unsigned int released;    /* [lock] its handle let it go (uva__end_release()): it counts as no port */
  /* Its calls' counters (channel/call.c): written by the end's owner only, read from any thread (relaxed
   * loads, no lock), so uva_port_stats() reads them as it reads the queues. */
  _Atomic uint64_t calls_pending; /* [owner] calls made with uva_port_call() whose callback has not run */
  _Atomic uint64_t late_replies;  /* [owner] replies that found no call */
  atomic_int call_waiting;        /* a uva_port_call_wait() is under way through it (one at a time) */

  uva__group_t *group;     /* broadcast: the group (its lock guards the links) */
  uva__link_t member;      /* in the group's member list */
  size_t refused_len;      /* [group->lock] broadcast: bytes of this member's last post refused with
                              UV_EAGAIN */
  unsigned int wants_room; /* [group->lock] broadcast: this member's writable callback waits for room
                              in every other member */
};

/* Whether end is of the parent of this process (fork.c): what a forked child inherited is refused or left
 * alone before its lock is taken, which a thread of the parent may have held at the fork, for good in the
 * child. The generation is fixed at creation: no lock. */
static inline int uva__end_inherited(const uva__end_t *end) {
  return end->generation != uva__fork_generation;
}

/* Creates two entangled ends, each the other's peer: a channel's. */
int uva__end_pair_new(uva__end_t **a, uva__end_t **b);

/* Creates a lone end, with no peer: a broadcast member's. */
int uva__end_new_member(uva__end_t **endp);

/* Drops the end's reference to its pair after freeing what its queue still holds. */
void uva__end_release(uva__end_t *end);

/* n references that keep end's memory (not its queue) after its handle released it: requests' way back to
 * their caller (channel/call.c). An end released by its handle is closed, so what is pushed to it then is
 * refused. Any thread. */
void uva__end_ref(uva__end_t *end, unsigned int n);
void uva__end_unref(uva__end_t *end, unsigned int n);

/* What uva__end_enqueue() returns when the posting handle retired while the post waited for room. */
#define UVA__END_RETIRED 1

/* Appends msg to end's queue, waiting up to timeout_ms for room (0: never wait; < 0: no limit). poster is
 * the posting handle's state: a wait ends with UVA__END_RETIRED once it may no longer post. Returns 0,
 * UV_EPIPE, UV_E2BIG, UV_EAGAIN (timeout 0), UV_ETIMEDOUT, UV_ECANCELED (the thread's canceller) or
 * UVA__END_RETIRED. */
int uva__end_enqueue(uva__end_t *end, uva_msg_t *msg, int64_t timeout_ms, const unsigned int *poster);
/* Appends msgs, from the first, while each may be (no wait: as uva__end_enqueue() with a timeout of 0), under
 * one lock and with one wakeup. 0 with *posted >= 1 (how many were appended), or the first one's error and
 * *posted = 0. */
int uva__end_enqueue_many(uva__end_t *end, uva_msg_t *const *msgs, size_t n, size_t *posted);

/* Wakes the posts through end's handle that wait for room (in the peer's queue, or the group's members'), to
 * look at the handle's state again. */
void uva__end_wake_posters(uva__end_t *end);

/* Takes the oldest queued message, waiting up to timeout_ms (0: never wait, UV_EAGAIN; < 0: no limit).
 * Returns 0, UV_EAGAIN, UV_EPIPE, UV_ETIMEDOUT or UV_ECANCELED. */
int uva__end_dequeue(uva__end_t *end, uva_msg_t **msgp, int64_t timeout_ms);

/* Calls (channel/call.c). */

/* Appends msg, an answer owed to end's calls, whatever end's bounds, and on success drops unref of the
 * references held on end (uva__end_ref()): 0, UV_EPIPE (closed), UV_ELOOP (msg carries a port whose queue
 * would then hold it) or UVA_EFORKED. Any thread. */
int uva__end_push_owed(uva__end_t *end, uva_msg_t *msg, unsigned int unref);

/* For a loop-less caller: takes the reply to call id out of end's queue (not started), waiting up to
 * timeout_ms (0: never wait); every other message stays queued, in order. Replies to other ids met on the way
 * are late: taken out too, and returned as a chain in *late for the caller to count and free. Returns 0,
 * UV_ETIMEDOUT, UV_EPIPE (closed, and no reply queued) or UV_ECANCELED. */
int uva__end_take_reply(uva__end_t *end, uint64_t id, int64_t timeout_ms, uva_msg_t **msgp, uva_msg_t **late);

/* [loop] Calls fn(arg, its call id) for each reply waiting to be delivered to the started end, its batch then
 * its queue, in order, until fn returns nonzero; under the end's lock, so fn must not call into the end. */
void uva__end_each_reply(uva__end_t *end, int (*fn)(void *arg, uint64_t call_id), void *arg);

/* Calls of a started end completed (cancelled, timed out, answered during a receive): their callbacks run in
 * the end's delivery, on its loop's next turn. On its loop's thread. */
void uva__end_calls_due(uva__end_t *end);

/* [loop] In the end's delivery: takes a callback's place in the end's share of this loop turn (the
 * fairness rule that bounds its messages bounds its call callbacks too): 1, or 0 once the share is spent. */
int uva__end_share_take(uva__end_t *end);

/* Closes end's side: nothing more enters either queue of the pair; started ends drain, then close. */
void uva__end_close(uva__end_t *end);

/* Attaches end to loop (run by the calling thread) and schedules its backlog. */
int uva__end_start(uva__end_t *end, uv_loop_t *loop, void *handle, const uva__end_ops_t *ops);

/* Detaches a started end from its loop (for a transfer): undelivered messages go back to the queue front. */
void uva__end_stop(uva__end_t *end);

/* How long end's loop may spin for messages while end is started on it. */
void uva__end_set_spin(uva__end_t *end, uint64_t spin_ns);

/* Pauses (on) or resumes the delivery of a started end, on its loop's thread. */
void uva__end_pause(uva__end_t *end, int on);

/* Whether a started end keeps its loop alive. */
void uva__end_set_ref(uva__end_t *end, int ref);

/* Asks for the writable callback once end's peer has room. */
int uva__end_want_writable(uva__end_t *end);

/* Asks for the writable callback once end's peer holds at most max_messages (uva_port_on_drain()); replaces
 * a request of uva__end_want_writable()'s, and the reverse. */
int uva__end_want_drain(uva__end_t *end, size_t max_messages);

/* Whether a message over end's byte bound enters end's queue when it is empty (uva_port_admit_oversized()).
 */
void uva__end_admit_oversized(uva__end_t *end, int on);

void uva__end_set_limits(uva__end_t *end, size_t max_messages, size_t max_bytes);

/* Refuses messages whose body or one moved buffer is over max bytes (0: no cap). */
void uva__end_set_max_part(uva__end_t *end, size_t max);

/* Fills *out with what end's queue has seen (uva_port_stats()); any thread, while the end is alive. */
void uva__end_stats(uva__end_t *end, uva_queue_stats_t *out);

/* What the ends of this process hold, for uva_process_stats(): every end not released, of the current
 * process generation. */
typedef struct {
  uint64_t ports;   /* ends of channels */
  uint64_t members; /* broadcast members' ends */
  uint64_t queued;  /* messages posted to them and not delivered */
  uint64_t queued_bytes;
} uva__ends_total_t;

void uva__ends_total(uva__ends_total_t *out);

/* Broadcast: end refused a post of len bytes for want of room (counted in its stats), unless it has room or
 * is closed. */
void uva__end_note_refused(uva__end_t *end, size_t len);

/* Delivers what end has for its loop's thread; called by the loop. */
void uva__end_deliver(uva__loop_t *loop, uva__end_t *end);

/* Closes a started end now, on its loop's thread: what is queued to it is freed, the peer sees the close,
 * and the handle's close callback runs before this returns. */
void uva__end_abort(uva__loop_t *loop, uva__end_t *end);

/* Per-loop wakeup (loop.c). */
int uva__loop_attach(uv_loop_t *uvloop, uva__end_t *end, uva__loop_t **loopp);
void uva__loop_detach(uva__loop_t *loop, uva__end_t *end);
/* Holds uvloop's wakeup, run by the calling thread, for an owner that wakes the loop from other threads
 * without an end (an actor: its stop, its utilization): uva__loop_poke() then calls on_poke(arg) on the
 * loop's next turn, whether it sleeps, spins or runs callbacks. One hold per loop; it does not keep uvloop
 * alive. 0, UV_ENOMEM, UV_EPERM or UVA_EFORKED. */
int uva__loop_hold(uv_loop_t *uvloop, void (*on_poke)(void *arg), void *arg, uva__loop_t **loopp);
/* On the loop's thread: the hold ends, and no poke may come after. */
void uva__loop_release(uva__loop_t *loop);
/* On uvloop's thread, once every close on it has finished: frees what is left of uvloop's wakeup when the
 * program closed its handles itself (a walk that closed every handle), which libuv finished without telling
 * the library. */
void uva__loop_reap(uv_loop_t *uvloop);
/* Any thread, while the hold lasts (the caller's to make sure: an actor pokes under its lock while it runs,
 * and releases once it has said, under that lock, that it no longer runs). Pokes coalesce: many before the
 * loop's turn, one call. */
void uva__loop_poke(uva__loop_t *loop);
/* end->lock held. Puts end on loop's ready list; returns loop if it sleeps and must be woken, counted as a
 * waker (the loop stays open until it is woken), or NULL. */
__attribute__((warn_unused_result)) uva__loop_t *uva__loop_schedule(uva__loop_t *loop, uva__end_t *end);
/* Wakes what uva__loop_schedule() returned (NULL: nothing), with no lock held. Any thread. */
void uva__loop_wake(uva__loop_t *loop);
void uva__loop_unschedule(uva__loop_t *loop, uva__end_t *end);
void uva__loop_ref(uva__loop_t *loop, int delta);
/* The loop's own thread posted through an end started on it: its next turn may spin for an answer. */
void uva__loop_note_post(uva__loop_t *loop);
/* A callback this thread runs for a loop's delivery answered a call (call.c): like a post, it keeps a
 * conversation going, so that loop's next turn may spin for the next question, as a port that posted does. */
void uva__loop_note_answer(void);
/* Sets a started end's spin window: the loop spins as long as the longest of its ends asks. */
void uva__loop_set_spin(uva__loop_t *loop, uva__end_t *end, uint64_t spin_ns);
int uva__loop_is_delivering(uva__loop_t *loop, uva__end_t *end);
/* The loop's turn: a number that changes on each turn of the uv_loop_t. */
unsigned int uva__loop_turn(uva__loop_t *loop);
/* An end has used its share of this turn and waits for the next: the turn delivers no more. */
void uva__loop_note_yield(uva__loop_t *loop);
void uva__loop_stop_delivering(uva__loop_t *loop, uva__end_t *end);

/* Aborts every end started on uvloop (the actor layer, ending an actor). Called on the loop's thread. */
void uva__loop_shutdown(uv_loop_t *uvloop);

/* Ports in transit (transit.c). */

/* The bookkeeping of transit.c is for messages that carry something (arrive) and for those it recorded
 * (depart): every post and every delivery asks, so the question is inline and the work out of line. */
int uva__transit_arrive_slow(uva__end_t *dest, uva_msg_t *msg);
void uva__transit_depart_slow(uva_msg_t *msg);

/* end->lock held, msg about to join dest's queue: 0, or UV_ELOOP when msg carries a port whose queue would
 * then hold msg (the receiving end itself, or an end in transit on the way up from it). */
static inline int uva__transit_arrive(uva__end_t *dest, uva_msg_t *msg) {
  return msg->nattach == 0 ? 0 : uva__transit_arrive_slow(dest, msg);
}

/* msg left the queue it was on (delivered, received, or about to be freed with it). */
static inline void uva__transit_depart(uva_msg_t *msg) {
  if (msg->queued_on != NULL)
    uva__transit_depart_slow(msg);
}
void uva__transit_depart_all(uva_msg_t *chain);
/* end is now carried by msg (packed into it), or by nothing (msg NULL: taken, or released). */
void uva__transit_carry(uva__end_t *end, uva_msg_t *msg);

/* Broadcast (broadcast.c uses these; end.c calls uva__group_room()). A broadcast post checks the room of
 * every other member under its group's lock, then pushes the copies: only posts to the group add to a
 * member's queue, and they are serialized by that lock, so the room it found is still there. */

/* 0 if end has room for a message of len bytes, or is closed (it will refuse its copy); UV_E2BIG if len is
 * over its byte bound; else UV_EAGAIN and, with watch, end tells its group (uva__group_room()) once it has
 * room for len bytes (for the smallest len watched). */
int uva__end_check_room(uva__end_t *end, size_t len, int watch);

/* Appends msg to end's queue whatever its bounds (checked before): 0, or UV_EPIPE if end is closed. */
int uva__end_push(uva__end_t *end, uva_msg_t *msg);

/* Runs end's writable callback on its loop (on its next turn), unless end is closed. */
void uva__end_notify_writable(uva__end_t *end);

/* A member of group has room again, as one watching it asked. Called with no lock held, on the member's
 * thread. */
void uva__group_room(uva__group_t *group);

/* Wakes the posts to group that wait for room, to look at their handles' state again. */
void uva__group_wake(uva__group_t *group);

#endif /* UVA_CHANNEL_END_H */
