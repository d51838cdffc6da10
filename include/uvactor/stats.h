/* uvactor stats: seeing inside a running program.
 *
 * Three views, each read from any thread into a struct the caller provides:
 *   - a port's two queues: what waits for it and what it sent that waits at its peer, with counters
 *     (posted, delivered, refused by the bounds), a high-water mark and the age of the oldest message;
 *   - an actor's loop utilization (Node's eventLoopUtilization): how its time splits between work, waiting
 *     for events, and spinning for messages, which is neither;
 *   - the process: actors alive, ports open, messages and bytes in flight.
 *
 * The counters cost nothing to keep: each sits under a lock the code that moves it takes anyway, or
 * belongs to the one thread that writes it; a post touches no memory it did not touch before. Reading
 * takes those locks for a moment. Counters are exact; a snapshot of a queue that is moving is a moment of
 * it, each number true at some instant during the call.
 *
 * Loop utilization is measured from the first time anyone asks for it: measuring costs a loop one extra
 * non-blocking poll each time it goes to sleep (libuv's UV_METRICS_IDLE_TIME, which Node turns on for every
 * loop), so an actor nobody looks at does not pay for it.
 */
#ifndef UVACTOR_STATS_H
#define UVACTOR_STATS_H

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queues: what waits for a port or a broadcast member, and what went through it. */

/* One queue: the messages posted to one port (or broadcast member), which it delivers. Sizes are body
 * bytes, as the bounds count them (uva_port_set_limits()); a moved or shared buffer a message carries is
 * not counted. posted = delivered + queued, but for messages freed unread when their port closed. */
typedef struct {
  uint64_t queued;           /* messages waiting: posted, not yet delivered to the message callback nor
                                taken by a receive */
  uint64_t queued_bytes;     /* their body bytes */
  uint64_t high_water;       /* the most messages the queue has held at once, counted as max_messages
                                counts them: a delivered message leaves the count when its loop is done
                                with the batch it came in */
  uint64_t high_water_bytes; /* the most body bytes, counted as max_bytes counts them */
  uint64_t posted;           /* messages that entered the queue */
  uint64_t posted_bytes;
  uint64_t delivered; /* messages that left it to the receiver: delivered, or received */
  uint64_t delivered_bytes;
  uint64_t refused;     /* posts the bounds refused: UV_EAGAIN (for uva_port_post_many(): at msgs[0]), or a
                           wait for room that timed out */
  uint64_t oldest_ns;   /* how long the oldest waiting message has waited, or more; 0 when none waits.
                           A queue is stamped when it goes from empty to not (one clock read per run of
                           posts), and its loop takes what waits as one batch: a message counts from the
                           first arrival of its batch. To the clock's tick (CLOCK_MONOTONIC_COARSE: 1 to
                           10 ms) */
  uint64_t pending;     /* messages the bounds count now (max_messages): those queued, and those its loop
                           delivered in a batch it is not done with (see high_water; every 16 while a
                           uva_port_on_drain() waits); high_water is the most this has been */
  uint64_t reserved[5]; /* zero */
} uva_queue_stats_t;

/* What uva_port_stats() fills in: the port's two directions, and the calls made through it (call.h). Later
 * versions count more in the reserved space, so the struct's size stays and a program built against this
 * version keeps working. */
typedef struct {
  uva_queue_stats_t in;   /* messages posted to this port: what it delivers */
  uva_queue_stats_t out;  /* messages this port posted: its peer's queue */
  uint64_t calls_pending; /* calls made through the port (uva_port_call()) whose callback has not run */
  uint64_t late_replies;  /* answers that came after their call had completed (timed out, cancelled, or a
                             uva_port_call_wait() that returned), freed unseen */
  uint64_t reserved[6];   /* zero */
} uva_port_stats_t;

/* Fills *stats with the counters of both queues of port's channel: in, this port's own, and out, its
 * peer's (for an actor's port, uva_actor_port(), out is what waits for the actor); and with the counters of
 * the calls made through port. The queues and the call counters live as long as the ports: a port keeps its
 * counts through a transfer, and a new handle that takes a port sees them. Any thread, at any time until
 * the handle is closed or transferred, even while its owner uses it (it does not make the port the
 * caller's: port.h); it takes each queue's lock for a moment. The call counters are written by the port's
 * owner alone: read on the owner's thread they are exact, read elsewhere they are a value each had at
 * some moment before the call returned. Returns 0, UV_EINVAL (NULL port or stats, or a handle never
 * initialized), UV_EBADF (closed or transferred) or UVA_EFORKED. */
UVA_EXTERN int uva_port_stats(const uva_port_t *port, uva_port_stats_t *stats);

/* Fills *stats with the counters of the queue of broadcast member bc, as uva_port_stats() does for a port:
 * posted counts the copies of other members' posts it got; refused, the posts to the group its bounds
 * refused (no member got those). Any thread, until bc is closed. Returns 0, UV_EINVAL (NULL bc or stats,
 * or a handle never initialized), UV_EBADF (closed) or UVA_EFORKED. */
UVA_EXTERN int uva_broadcast_stats(const uva_broadcast_t *bc, uva_queue_stats_t *stats);

/* Loop utilization: how an actor's loop spends its time. */

/* How an actor's loop spent its time, as Node's eventLoopUtilization() tells it, with spinning apart. A
 * snapshot counts from the moment measuring started (the first uva_actor_elu() or uva_self_elu() call for
 * the actor); two snapshots give an interval (uva_elu_diff()). */
typedef struct {
  uint64_t busy_ns;     /* running callbacks, main, and libuv's own work between polls */
  uint64_t idle_ns;     /* waiting in the loop's poll for something to happen */
  uint64_t spin_ns;     /* watching its ports for messages before sleeping (uva_port_set_spin()), and, on
                           its thread outside the loop, a join or a blocking receive watching before it
                           sleeps (uva_process_stats_t.spin_ns): awake, holding a CPU, and no work done */
  double utilization;   /* busy_ns / (busy_ns + idle_ns + spin_ns); 0 when the three are 0 */
  uint64_t reserved[4]; /* zero */
} uva_elu_t;

/* Fills *elu with how the actor's loop has spent its time since measuring started. The first call for an
 * actor starts measuring: it returns an empty snapshot (all 0), and the actor's loop measures from its
 * next turn (it is woken to do so); until then every call returns an empty one, and so does a call on an
 * actor whose loop never runs (busy in main, or failed to start). After the actor's loop has ended, the
 * figures stop there (until its thread is joined). Time is wall-clock time: a loop whose thread waits
 * for a CPU in a callback is busy. Any thread, concurrently, until the exit event (or join). Returns 0,
 * UV_EINVAL (NULL actor or elu, or an actor never spawned), UV_ESRCH (its thread was joined: by
 * uva_actor_join(), or, for a parent with a loop, just before the exit event, which needs the exit code the
 * join gives; from then on the handle has no figures, before the exit callback as during and after it) or
 * UVA_EFORKED. */
UVA_EXTERN int uva_actor_elu(const uva_actor_t *actor, uva_elu_t *elu);

/* The same, inside the actor, on its own thread (its main, or a callback on its loop): the first call starts
 * measuring at once, so one in main measures the loop's whole life. Returns 0 or UV_EINVAL (NULL self or
 * elu). */
UVA_EXTERN int uva_self_elu(uva_self_t *self, uva_elu_t *elu);

/* The interval between two snapshots of one actor, before then after, as Node's
 * eventLoopUtilization(after, before): each time after's minus before's, and the utilization of that (a
 * part that seems to go back, by the nanoseconds between the clock reads of one snapshot, counts as 0 and
 * its time as busy). delta may be either of them. Returns 0, or UV_EINVAL (a NULL argument, or after
 * covers less time than before: the two are swapped). */
UVA_EXTERN int uva_elu_diff(const uva_elu_t *before, const uva_elu_t *after, uva_elu_t *delta);

/* The process: what is made in it and not ended. */

/* What uva_process_stats() fills in. */
typedef struct {
  uint64_t actors;       /* actors spawned and not ended: their thread runs, or is about to */
  uint64_t ports;        /* ports open: not closed yet, or in a message; the library's own count (an actor
                            has four: two channels to its parent) */
  uint64_t members;      /* broadcast members not closed */
  uint64_t queued;       /* messages in flight: posted to a port or member, not yet delivered */
  uint64_t queued_bytes; /* their body bytes */
  uint64_t spin_ns;      /* how long threads have spun outside any loop since the process started: a
                            thread done with an actor watching for its next one, a join without a loop
                            watching for the actor's end (docs/actors.md, "Threads are reused"), a blocked
                            receive watching its queue (uva_port_receive_wait()); neither work nor
                            idleness, as in uva_elu_t */
  uint64_t reserved[10]; /* zero */
} uva_process_stats_t;

/* Fills *stats with counts of the whole process: what is made in it and not ended (what a forked child
 * inherited does not count there). It walks every port, taking each one's lock for a moment: for a look
 * every second or so, not for a tight loop. Thread-safe. Returns 0 or UV_EINVAL (NULL). */
UVA_EXTERN int uva_process_stats(uva_process_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_STATS_H */
