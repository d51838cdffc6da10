/* uvactor ports: MessagePort pairs (a MessageChannel) and BroadcastChannel.
 *
 * A channel is two entangled ports; a message posted on one is delivered by the other. Handles are
 * caller-allocated, as in libuv: uva_channel_init() fills two uva_port_t, and a port stays the caller's
 * memory through its whole life, so a call on a closed or transferred port is an error, not undefined
 * behaviour.
 *
 * Life of a port:
 *   new        after uva_channel_init() or uva_msg_take_port(): belongs to no loop; messages queue. The peer
 *              closing leaves it new: it can still be read, started (it delivers its queue, then gets its
 *              close callback) or closed (0, its queue freed).
 *   started    uva_port_start() attached it to the calling thread's loop: the backlog and every later message
 *              are delivered there, FIFO, by its message callback.
 *   closing    uva_port_close() on either port of the channel: what is already queued is still delivered,
 *              then each started port gets its close callback. Posting now fails with UV_EPIPE.
 *   closed     as its close callback is about to run (another thread's post may see UV_EBADF a moment
 *              before the callback begins), or at once for a port that was never started; once the callback
 *              ran, the memory is the caller's again.
 *   transferred after uva_msg_pack_port(): the port travels in the message and the handle is spent. The port
 *              lives on, in whatever handle the receiver gives uva_msg_take_port().
 *
 * A new port belongs to the thread that used it last: the one that made or took it, then any thread that
 * makes a call on it other than a post. One that belongs to an actor's thread when the actor ends is closed
 * then, as Node closes every port a worker holds (its peer sees the close; calls on the handle then return
 * UV_EBADF); a call from another thread racing that end either comes first (and the port is that thread's
 * from then on) or finds the port closed. A handle is identified by its address: never copy or move one.
 *
 * Threads: uva_port_post() and uva_port_post_wait() may be called from any thread, concurrently, at any time
 * until the caller frees the handle's memory: a post racing the port's close or transfer either goes through
 * or fails cleanly (the close or transfer waits for posts already under way, and wakes one waiting for room).
 * A started port is otherwise used only on its loop's thread (UV_EPERM from any other). A port that is not
 * started may be used from any one thread at a time. Delivery never waits for the receiver: a post locks the
 * receiving queue, appends and, only when the receiving loop may be asleep, wakes it.
 *
 * Delivery is fair: one turn of a loop delivers at most 1000 messages of one port, fewer once their
 * callbacks have taken a millisecond (looked at every 16 messages); the rest waits for the next turn, after
 * the loop's timers, I/O and other ports. The callbacks of the port's calls (call.h) count as its messages,
 * however the calls completed. The loop takes a port's messages a batch at a time, what the queue holds
 * when the loop comes to the port: messages posted while a batch is delivered wait for the loop's next
 * round, which is its next turn unless the loop is watching for an answer (uva_port_set_spin()). A turn that
 * delivered messages does not block in its poll, so every run mode works: uv_run(UV_RUN_ONCE) returns after
 * the turn that delivered, as after any callback.
 *
 * Waits (uva_port_post_wait(), uva_port_receive_wait(), the broadcast ones, uva_port_call_wait(),
 * uva_actor_join()) follow one rule: a timeout_ms < 0 (UVA_WAIT_FOREVER is -1) waits as long as it takes; 0
 * does not wait: it tries once and returns UV_ETIMEDOUT where it would have to wait; > 0 waits up to that
 * many milliseconds (a timeout past what the clock can count is none), then UV_ETIMEDOUT. On the thread of an
 * actor that is ending (terminated, uva_self_exit(), or in its teardown), a wait that would have to wait
 * returns UV_ECANCELED instead, whatever its timeout.
 *
 * Every call on a handle returns UV_EINVAL for a NULL handle, or a zeroed one that was never initialized.
 *
 * fork(): ports and loops do not survive it. In the child, every call on a port or member it inherited, or a
 * start on a loop it inherited, returns UVA_EFORKED, and the inherited loops' wakeups are left to the parent.
 * An inherited message may be freed: the port it carries is left as it is. None of these waits on a lock a
 * thread of the parent held at the fork.
 */
#ifndef UVACTOR_PORT_H
#define UVACTOR_PORT_H

#include "msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One end of a channel (its fields: struct uva_port_s). Caller-allocated (on the stack, in a struct, on the
 * heap): keep it valid until it is closed (after its close callback, if it was started) or transferred,
 * and never copy or move it, since a handle is known by its address. */
typedef struct uva_port_s uva_port_t;
/* A member of a broadcast group (its fields: struct uva_broadcast_s): caller-allocated and never copied,
 * as a port. */
typedef struct uva_broadcast_s uva_broadcast_t;

/* A message arrived; msg is the callback's to free (uva_msg_free()) or keep. The callback may close the
 * port, transfer it (the messages queued behind this one go with it, in order) or take the next messages
 * itself with uva_port_receive(). */
typedef void (*uva_port_message_cb)(uva_port_t *port, uva_msg_t *msg);
/* The channel is closed and everything queued was delivered. The handle's memory is the caller's again. */
typedef void (*uva_port_close_cb)(uva_port_t *port);
/* The peer's queue, full at the last post, has room again. */
typedef void (*uva_port_writable_cb)(uva_port_t *port);

/* A message another member posted; msg is the callback's to free or keep. */
typedef void (*uva_broadcast_message_cb)(uva_broadcast_t *bc, uva_msg_t *msg);
/* The member is closed and what was queued to it delivered. The handle's memory is the caller's again. */
typedef void (*uva_broadcast_close_cb)(uva_broadcast_t *bc);
/* Every other member of the group, one of which was full at the last post, has room again. */
typedef void (*uva_broadcast_writable_cb)(uva_broadcast_t *bc);

/* Wait forever in uva_port_receive_wait(), uva_port_post_wait(), their uva_broadcast_* twins,
 * uva_port_call_wait() and uva_actor_join(); any negative timeout does. Every such wait follows one rule:
 * timeout_ms < 0 waits as long as it takes; 0 does not wait: it tries once and returns UV_ETIMEDOUT where it
 * would have to wait; a timeout_ms > 0 waits up to that many milliseconds, then returns UV_ETIMEDOUT. */
#define UVA_WAIT_FOREVER (-1)

/* Private: a new handle on the list of the actor that holds it (closed when the actor ends). */
struct uva__hold_s {
  struct uva__hold_s *next;
  struct uva__hold_s *prev;
  struct uva__holder_s *holder;
  void *handle;
};

/* Private: what a port and a broadcast member hold after UVA_HANDLE_FIELDS; the same for both, so that one
 * internal type serves both (channel/endpoint.h). */
union uva__message_cb_u {
  uva_port_message_cb port;
  uva_broadcast_message_cb broadcast;
};
union uva__close_cb_u {
  uva_port_close_cb port;
  uva_broadcast_close_cb broadcast;
};
union uva__writable_cb_u {
  uva_port_writable_cb port;
  uva_broadcast_writable_cb broadcast;
};
#define UVA_ENDPOINT_PRIVATE_FIELDS      \
  struct uva__end_s *end_;               \
  union uva__message_cb_u message_cb_;   \
  union uva__close_cb_u close_cb_;       \
  union uva__writable_cb_u writable_cb_; \
  struct uva__hold_s hold_;

/* One end of a channel. Public: data. Read-only: loop (where it is started, NULL otherwise) and type
 * (UVA_PORT). */
struct uva_port_s {
  UVA_HANDLE_FIELDS
  UVA_ENDPOINT_PRIVATE_FIELDS
};

/* A member of a broadcast group. Public: data. Read-only: loop and type (UVA_BROADCAST). */
struct uva_broadcast_s {
  UVA_HANDLE_FIELDS
  UVA_ENDPOINT_PRIVATE_FIELDS
};

/* Creates a channel: port1 and port2 become two new, entangled ports. Returns 0, UV_EINVAL (a NULL handle,
 * or the same handle twice) or UV_ENOMEM; on error neither handle is initialized. Thread-safe. */
UVA_EXTERN int uva_channel_init(uva_port_t *port1, uva_port_t *port2);

/* Attaches a new port to loop, which must be run by the calling thread: that thread owns the port from now
 * on. Queued messages and every later one are delivered by message_cb on that loop, from inside uv_run()
 * and never inside this call; close_cb (may be NULL) runs once the channel is closed and drained. The port
 * keeps the loop alive (see uva_port_unref()). Returns 0, UV_EINVAL (NULL port, loop or message_cb),
 * UV_EBUSY (already started, or closing), UV_EBADF (transferred or closed), UV_EPERM (loop is run by
 * another thread: the first port started on a loop fixes its thread), UV_ENOMEM, UV_ECANCELED (an actor's
 * loop in its teardown: from a callback the teardown runs) or UVA_EFORKED (the port or the loop was inherited
 * through fork()). */
UVA_EXTERN int uva_port_start(uva_port_t *port, uv_loop_t *loop, uva_port_message_cb message_cb,
                              uva_port_close_cb close_cb);

/* Posts msg to the other port of the channel. On success the message is consumed; on failure it stays the
 * caller's, unchanged, to post again or free. The body is validated first, with the default limits
 * (uva_msg_validate(msg, NULL): at most 64 MiB, nesting 64, 1 Mi elements per container, 4 Mi objects;
 * split larger data, or move it as a buffer), so a malformed message is refused here, never delivered. Any
 * thread, concurrently, even while another thread closes or transfers the port: the post then goes through
 * or fails cleanly. Returns 0, UV_EINVAL (NULL), a UVA_E* code (malformed body), UV_ENOMEM (an earlier pack
 * failed), UV_E2BIG (a body over 64 MiB, msg alone over the peer's byte limit, or its body or a moved buffer
 * over the peer's uva_port_set_max_message()), UV_EBADF (port
 * transferred, or closed by the caller), UV_EPIPE (the channel is closed: this port is closing, or the peer
 * closed it, before or after this port's close callback), UV_EAGAIN (the peer's queue is full: see
 * uva_port_set_limits()), UV_ELOOP (msg carries a port whose own queue would then hold msg: the receiving
 * port, or a port in transit on the way to it; nobody could ever take it) or UVA_EFORKED. */
UVA_EXTERN int uva_port_post(uva_port_t *port, uva_msg_t *msg);

/* As uva_port_post(), but when the peer's queue is full waits for room by the wait rule (timeout_ms < 0: as
 * long as it takes; 0: UV_ETIMEDOUT where it would wait; > 0: up to that many milliseconds). For threads
 * that run no loop. A message over the peer's byte limit fails at once (UV_E2BIG): no room could make it
 * fit. Returns what uva_port_post() returns but UV_EAGAIN: UV_EPIPE if the channel closes while it waits,
 * UV_EBADF if another thread closes or transfers this port meanwhile (that close or transfer does not wait
 * for room); or UV_ETIMEDOUT, or UV_ECANCELED (on an actor's thread, the actor is ending). On error msg
 * stays the caller's. */
UVA_EXTERN int uva_port_post_wait(uva_port_t *port, uva_msg_t *msg, int64_t timeout_ms);

/* Posts msgs[0], msgs[1], ... in order, as uva_port_post() would post each, but under one lock and with at
 * most one wakeup of the receiving loop: for a thread that has a run of messages for one port at once (the
 * remote transport), so that the receiver is woken once for the run, not once per message it finds empty.
 * Stops at the first message that cannot go: *posted says how many, from the first, went and were
 * consumed; the rest stay the caller's, and msgs[*posted] on its own (uva_port_post()) says why it did not
 * go. The messages must be distinct: one consumed by an earlier entry is no longer the caller's, as after
 * uva_port_post(), and naming it again is the program's error, which the run does not look for. Only a run
 * refused at its first message counts in uva_port_stats_t.refused (a run that stops later returns 0). Any
 * thread, as uva_port_post(). Returns 0 (*posted >= 1), or, when msgs[0] cannot go, what uva_port_post()
 * returns for it (*posted = 0, nothing consumed); UV_EINVAL also for NULL msgs or posted, n = 0, or a NULL
 * msgs[0]. */
UVA_EXTERN int uva_port_post_many(uva_port_t *port, uva_msg_t *const *msgs, size_t n, size_t *posted);

/* Takes the oldest queued message without a loop (Node's receiveMessageOnPort): *msgp becomes the caller's.
 * Works on a port never started, and after the channel closed (the last messages can still be read); on a
 * started port only on its loop's thread, and the message is then not delivered to message_cb. Returns 0,
 * UV_EAGAIN (nothing queued), UV_EPIPE (nothing queued and the channel is closed), UV_EINVAL (NULL),
 * UV_EBADF (transferred or closed), UV_EPERM (started on another thread's loop) or UVA_EFORKED. */
UVA_EXTERN int uva_port_receive(uva_port_t *port, uva_msg_t **msgp);

/* As uva_port_receive(), but waits for a message by the wait rule (timeout_ms < 0: as long as it takes; 0:
 * UV_ETIMEDOUT where it would wait; > 0: up to that many milliseconds); a post from any thread wakes it,
 * and so does the channel closing. For a port that is not started (a thread that runs no loop). A wait that
 * finds the queue empty first watches it for the port's spin window (uva_port_set_spin(); never past the
 * timeout, not at all with a timeout of 0 or with one CPU), without its lock, before it sleeps: a message
 * posted that soon costs the poster no wakeup and the reader no sleep. The close and the actor's terminate
 * end the spin at once. Windows that keep missing back off, as a loop's do; the time spun counts in
 * uva_process_stats_t.spin_ns. Returns
 * what uva_port_receive() returns but UV_EAGAIN (UV_EPIPE once the channel is closed and drained),
 * UV_ETIMEDOUT, UV_EBUSY (a port started on this thread's loop), or UV_ECANCELED (on an actor's thread, the
 * actor is ending). */
UVA_EXTERN int uva_port_receive_wait(uva_port_t *port, uva_msg_t **msgp, int64_t timeout_ms);

/* Closes the channel from this side. A started port: messages already queued to either port are still
 * delivered, then each started port gets its close callback, once; a message callback may close its own
 * port, and the messages queued behind it still arrive. A port never started: closed on return, its queued
 * messages freed with what they carry (a moved buffer through its free function, a port by closing it), and
 * no callback runs; the peer still gets its close. Returns 0, UV_EINVAL, UV_EBADF (already closed or
 * transferred), UV_EALREADY (closing), UV_EPERM (started on another thread's loop) or UVA_EFORKED. */
UVA_EXTERN int uva_port_close(uva_port_t *port);

/* Whether a started port keeps its loop alive (the default, as for a libuv handle). After uva_port_unref(),
 * a loop with nothing else to do returns from uv_run(); messages that come while it runs for other reasons
 * are still delivered. Not counted: one uva_port_ref() undoes any number of unrefs. A port closed with
 * uva_port_close() keeps its loop alive until its close callback, even if unref'd. An unref'd port whose
 * peer closes gets its close callback only if its loop runs; to finish it otherwise, uva_port_close() it
 * and run the loop (as with any libuv handle before uv_loop_close()). Thread: the port's loop's. Returns 0,
 * UV_EINVAL (not started), UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_ref(uva_port_t *port);
UVA_EXTERN int uva_port_unref(uva_port_t *port);
/* 1 if the port keeps its loop alive; 0 if not, or not started, or asked from another thread than its
 * loop's. */
UVA_EXTERN int uva_port_has_ref(const uva_port_t *port);

/* Stops and restarts the delivery of a started port, as uv_read_stop() and uv_read_start() do a stream's:
 * while paused, its message callback does not run and messages stay in its queue, in order, counted in its
 * bounds (uva_port_set_limits()), so that posts to it fail with UV_EAGAIN once it is full: flow control for
 * a receiver that cannot take more for a while. The channel's close waits too: the close callback comes
 * after a resume has delivered the queue. uva_port_receive() still takes messages from a paused port, and
 * uva_port_close() resumes it (what is queued is delivered, then the close callback runs). Either may be
 * called from the port's own callbacks; a pause from its message callback takes effect before the next
 * message. Pausing twice is pausing once. Thread: the port's loop's. Returns 0, UV_EINVAL (NULL, or not
 * started), UV_EBADF (transferred or closed), UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_pause(uva_port_t *port);
UVA_EXTERN int uva_port_resume(uva_port_t *port);

/* How long (microseconds) a loop, or a blocked receive, watches for messages before it sleeps, unless its
 * ports ask otherwise. */
#define UVA_SPIN_DEFAULT_US 20

/* While this port is started, its loop may watch for messages for up to usec microseconds before it sleeps
 * (0: it sleeps at once; the default is UVA_SPIN_DEFAULT_US). It does so only when its thread has posted
 * through a port started on it since its last turn, or answered a call from one of its callbacks (call.h),
 * that is when an answer, or the next question, may be due; a loop that only receives sleeps and wakes to a
 * batch. With a core each, the reply then arrives with no system call on either side and round trips drop
 * well below the cost of a wakeup; but a spinning loop holds its CPU. A loop spins as long as the longest of
 * its ports asks, never when it has other work due, never past its next timer, and not once a callback called
 * uv_stop(); I/O that comes during a window waits for its end, in every run mode (uv_run(UV_RUN_NOWAIT)
 * included). While messages keep coming within the window the loop stays awake; after a window in which
 * nothing came it sleeps at once for the next 1, 3, 7 ... up to 63 turns before it spins again, so a spin
 * that does not pay (messages further apart than the window, a partner with no core to answer from) costs
 * little. Set 0 on every port of a loop that must not spin. A port that is not started uses the same window
 * for uva_port_receive_wait(), which watches its queue that long before it sleeps (0: it sleeps at once).
 * Thread: the port's owner (its loop's thread once started). Returns 0, UV_EINVAL (usec over 1000000),
 * UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_set_spin(uva_port_t *port, unsigned int usec);

/* Bounds this port's incoming queue: at most max_messages messages and max_bytes body bytes waiting or
 * being delivered (0: no bound; the default is none). A post beyond it fails with UV_EAGAIN, the message
 * staying the sender's; a message over max_bytes all by itself, with UV_E2BIG. Thread: the port's owner
 * (its loop's thread once started). Returns 0, UV_EINVAL, UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_set_limits(uva_port_t *port, size_t max_messages, size_t max_bytes);

/* With on != 0, a message over this port's max_bytes all by itself is not refused with UV_E2BIG: it enters
 * the queue when the queue is empty (a post finds it full, UV_EAGAIN, until then), so the queue holds at most
 * max_bytes, or that one message. For a receiver that bounds what waits but must take any message up to a
 * size of its own (the remote transport's local ends, docs/remote.md). Off by default. Thread: the port's
 * owner (its loop's thread once started). Returns 0, UV_EINVAL, UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_admit_oversized(uva_port_t *port, int on);

/* Refuses posts to this port of a message whose body, or any one moved buffer it carries, is over max_bytes
 * (0: no cap, the default): they fail with UV_E2BIG, the message staying the sender's. Apart from the bounds
 * (uva_port_set_limits()), which count the bodies that wait: for a receiver that passes each part on to
 * where parts have a size cap (the remote transport's local ends: the peer's max_message, docs/remote.md).
 * Replies to calls are owed and never refused. Thread: the port's owner (its loop's thread once started).
 * Returns 0, UV_EINVAL, UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_set_max_message(uva_port_t *port, size_t max_bytes);

/* After a post returned UV_EAGAIN: asks for writable_cb to run once, on this started port's loop (the
 * sender's, never the receiver's), when the peer's queue has room again; if it has room already, on the
 * next loop turn, never inside this call. One callback is asked for at a time: asking again before it ran
 * replaces it. Returns 0, UV_EINVAL (NULL port
 * or writable_cb, or not started), UV_EPIPE (the channel is closed), UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_on_writable(uva_port_t *port, uva_port_writable_cb writable_cb);

/* Asks for drain_cb to run once, on this started port's loop, when the peer's queue holds at most
 * max_messages messages, counted as its bounds count them (waiting, or being delivered: see
 * uva_port_set_limits()); if it does already, on the next loop turn, never inside this call. Bounded or not:
 * for a sender that keeps its own window over what waits at its peer, and gives it back as the receiver
 * takes messages (the remote transport, docs/remote.md). While it waits, the peer's loop counts the messages
 * it delivered out of its queue every 16 of them, not only at the end of its turn's batch, so it is heard
 * of while the receiver works. It shares one request with uva_port_on_writable(): asking for either
 * replaces the other. Returns 0, UV_EINVAL (NULL port or drain_cb, or not started),
 * UV_EPIPE (the channel is closed), UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_port_on_drain(uva_port_t *port, size_t max_messages, uva_port_writable_cb drain_cb);

/* Packs port into msg, as the next object of its body (an ext of type UVA_EXT_PORT), to transfer it (Node's
 * transferList). On success the handle is spent (its memory is the caller's; calls on it return UV_EBADF)
 * and the port belongs to no loop until a receiver takes and starts it: messages posted to it meanwhile
 * queue, in order. A started port may be packed from its own message callback; the messages queued behind
 * go with it. A post blocked in uva_port_post_wait() on this port wakes with UV_EBADF (the transfer does
 * not wait for room). Freed without being taken, the message closes the port (but in a forked child, which
 * leaves an inherited port alone: see fork() above). On failure nothing changes.
 * Returns 0, UV_EINVAL (NULL, or a port that cannot be transferred: an actor's own port, uva_actor_port()),
 * UV_EBADF (transferred, closing or closed), UV_EBUSY (calls made through it are pending: their answers
 * come to it, call.h), UV_EPERM (started on another thread's loop), UV_ENOMEM (also after an earlier pack
 * into msg failed) or UVA_EFORKED. Posting msg on the peer of this port fails with
 * UV_ELOOP (the port's own queue would hold it); on this port's spent handle, with UV_EBADF. */
UVA_EXTERN int uva_msg_pack_port(uva_msg_t *msg, uva_port_t *port);

/* Takes the port that ext (an object of msg's view) names into the caller's handle *port, new (not
 * started): start it, receive on it, post through it, pass it on or close it. Returns 0, UV_EINVAL (msg,
 * ext or port NULL, or ext is not a port ext of this message) or UV_EALREADY (taken before). */
UVA_EXTERN int uva_msg_take_port(uva_msg_t *msg, const msgpack_object *ext, uva_port_t *port);

/* BroadcastChannel. A member lives as a port does (new, started, closing, closed; it cannot be
 * transferred), with the same thread rules: posts from any thread, a started member otherwise on its loop's
 * thread only. Two rules differ from Node's: a started member that closes still gets, on its loop, the
 * messages queued to it before the close (Node drops them; nothing posted after the close reaches it); and
 * a member's queue may be bounded (uva_broadcast_set_limits()), with the backpressure a port has.
 *
 * Teardown: an actor's members are closed when it ends, as its ports are: one started on its loop closes
 * with the loop (its close callback runs there), one it joined and never started after the loop; each
 * leaves the group then, and its handle returns UV_EBADF from then on. */

/* Joins the process-wide broadcast group name (copied; 1 to 255 bytes), which exists while it has members.
 * Any thread. A new member belongs to no loop; what the group posts queues until uva_broadcast_start(), and
 * can be read with uva_broadcast_receive(). Returns 0, UV_EINVAL (NULL bc or name, an empty name, or one
 * over 255 bytes) or UV_ENOMEM. */
UVA_EXTERN int uva_broadcast_init(uva_broadcast_t *bc, const char *name);

/* Attaches a member to loop, run by the calling thread; message_cb receives each message another member
 * posts, starting with what queued before the start; close_cb (may be NULL) runs after
 * uva_broadcast_close(), or when the loop's actor ends. Returns as uva_port_start() does. */
UVA_EXTERN int uva_broadcast_start(uva_broadcast_t *bc, uv_loop_t *loop, uva_broadcast_message_cb message_cb,
                                   uva_broadcast_close_cb close_cb);

/* Posts msg to every other member of the group, each getting its own copy; never to bc itself. Consumed on
 * success (even when there is no other member), the caller's on failure, unchanged: all or nothing, every
 * copy is made and every member's room checked before any is queued. Posts to one group are serialized, so
 * every member gets the group's messages in one order. A message carrying moved buffers or ports cannot be
 * copied: UV_EINVAL (shared buffers can: each copy holds a reference). The body is validated as
 * uva_port_post() does. Any thread, as uva_port_post(), even while another thread closes bc. Returns 0,
 * UV_EINVAL (NULL, or msg carries what cannot be copied), a UVA_E* code (malformed body), UV_E2BIG (over
 * the default size limit, or msg alone is over some member's byte bound), UV_EAGAIN (some other member's
 * queue is full: no member gets msg; see uva_broadcast_on_writable()), UV_EBADF (closing or closed),
 * UV_ENOMEM or UVA_EFORKED. */
UVA_EXTERN int uva_broadcast_post(uva_broadcast_t *bc, uva_msg_t *msg);

/* As uva_broadcast_post(), but while some other member's queue is full waits for room in all of them, by
 * the wait rule (timeout_ms < 0: as long as it takes; 0: UV_ETIMEDOUT where it would wait; > 0: up to that
 * many milliseconds); a member that drains or leaves wakes it. For threads that run no loop. A message over
 * a byte bound fails at once (UV_E2BIG). Another thread may close bc meanwhile (or its actor end): the wait
 * then ends with UV_EBADF, and the close does not wait for it. Returns what uva_broadcast_post() returns
 * but UV_EAGAIN, or UV_ETIMEDOUT, or UV_ECANCELED (on an actor's thread, the actor is ending); msg stays
 * the caller's on failure. */
UVA_EXTERN int uva_broadcast_post_wait(uva_broadcast_t *bc, uva_msg_t *msg, int64_t timeout_ms);

/* Takes the oldest message queued to this member without a loop, as uva_port_receive() does: *msgp becomes
 * the caller's. Works on a member never started, and on a started or closing one on its loop's thread (the
 * message is then not delivered to message_cb). Returns 0, UV_EAGAIN (nothing queued), UV_EPIPE (nothing
 * queued and the member is closing), UV_EINVAL (NULL), UV_EBADF (closed), UV_EPERM (started on another
 * thread's loop) or UVA_EFORKED. */
UVA_EXTERN int uva_broadcast_receive(uva_broadcast_t *bc, uva_msg_t **msgp);

/* As uva_broadcast_receive(), but waits for a message by the wait rule (timeout_ms < 0: as long as it
 * takes; 0: UV_ETIMEDOUT where it would wait; > 0: up to that many milliseconds); a post from any thread
 * wakes it. For a member that is not started (a thread that runs no loop). It watches the member's queue
 * before it sleeps, as uva_port_receive_wait() does, for UVA_SPIN_DEFAULT_US. Returns what
 * uva_broadcast_receive() returns but UV_EAGAIN, or UV_ETIMEDOUT, UV_EBUSY (a member started, or closing,
 * on this thread's loop), or UV_ECANCELED (on an actor's thread, the actor is ending). */
UVA_EXTERN int uva_broadcast_receive_wait(uva_broadcast_t *bc, uva_msg_t **msgp, int64_t timeout_ms);

/* Leaves the group; nothing posted afterwards reaches the member. Started: what was queued before is still
 * delivered, then close_cb runs on its loop. Not started: closed on return, its queue freed. A post waiting
 * in uva_broadcast_post_wait() through this member, on another thread, wakes with UV_EBADF: the close does
 * not wait for room. Returns 0, UV_EINVAL, UV_EBADF (closed), UV_EALREADY (closing), UV_EPERM (started on
 * another thread's loop) or UVA_EFORKED. */
UVA_EXTERN int uva_broadcast_close(uva_broadcast_t *bc);

/* Whether a started member keeps its loop alive (the default), as uva_port_ref() and uva_port_unref(): not
 * counted, and a closing member keeps it alive until its close callback. Thread: the member's loop's.
 * Returns 0, UV_EINVAL (not started), UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_broadcast_ref(uva_broadcast_t *bc);
UVA_EXTERN int uva_broadcast_unref(uva_broadcast_t *bc);
/* 1 if the member keeps its loop alive; 0 if not, or not started, or asked from another thread than its
 * loop's. */
UVA_EXTERN int uva_broadcast_has_ref(const uva_broadcast_t *bc);

/* Bounds this member's incoming queue as uva_port_set_limits() bounds a port's: at most max_messages
 * messages and max_bytes body bytes waiting or being delivered (0: no bound; the default is none). A post
 * by another member that would go beyond it fails with UV_EAGAIN (UV_E2BIG for a message over max_bytes
 * alone), and no member gets that message. Thread: the member's owner (its loop's thread once started).
 * Returns 0, UV_EINVAL, UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_broadcast_set_limits(uva_broadcast_t *bc, size_t max_messages, size_t max_bytes);

/* After a post through bc returned UV_EAGAIN: asks for writable_cb to run once, on this started member's
 * loop, when every other member has room for the refused post (a full member that leaves is room too); if
 * they have already, on the next loop turn, never inside this call. A retry then succeeds unless another
 * post took the room first (then ask again). Returns 0, UV_EINVAL (NULL bc or writable_cb, or not started),
 * UV_EBADF (closing or closed: a post would fail the same way), UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_broadcast_on_writable(uva_broadcast_t *bc, uva_broadcast_writable_cb writable_cb);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_PORT_H */
