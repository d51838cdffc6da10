/* uvactor calls: request and reply on a port.
 *
 * A call posts a request on a port and runs a callback once, on the caller's loop, with the answer or with
 * why there is none: uva_port_call(). Many calls may be outstanding on one port, answered in any order; the
 * library matches each reply to its call by an id that travels beside the msgpack body, never inside it, so
 * the body stays the application's (and other languages') to read. A thread that runs no loop calls with
 * uva_port_call_wait().
 *
 * The callee gets the request as a normal message on its port (uva_msg_is_call() tells it apart) and answers
 * it once, with uva_msg_reply() or uva_msg_reply_error(), at once or later, from any thread that holds the
 * message. Posting the request on to another port moves the duty to answer with it: the answer still reaches
 * the caller. A request freed without an answer answers itself: the call completes with UV_ECONNRESET.
 *
 * Status, the callback's second argument, exactly once per call, never from inside uva_port_call():
 *   0                the reply (the callback's to free)
 *   > 0              the callee's own error (uva_msg_reply_error()): reply is the message, its body the text
 *                    as a msgpack str; callee codes are positive, so they never mix with the library's
 *   UV_ETIMEDOUT     no answer queued to the port within the timeout, counted from the call as libuv counts
 *                    its timers
 *   UV_ECANCELED     uva_call_cancel()
 *   UV_EPIPE         the channel closed first (either port closed, or the actor on either side ended): every
 *                    pending call of the port fails, before the port's close callback; on uva_actor_port(),
 *                    before the actor's exit event, so before a supervisor reports the end (supervise.h)
 *   UV_ECONNRESET    the request was freed unanswered (CAF's broken promise)
 * An answer that comes after its call completed (timed out, cancelled) is late: freed, counted in the port's
 * statistics (uva_port_stats()), never given to a callback.
 *
 * Bounds: a call on a port whose peer's queue is full fails with UV_EAGAIN, as a post does. Replies are owed,
 * so the caller's own bounds never refuse them: a reply enters the caller's queue whatever its limits (and
 * counts in them until it is delivered). Broadcast channels have no calls: a request cannot be posted to a
 * group (UV_EINVAL), its answer being owed once.
 *
 * A port with calls pending cannot be transferred (uva_msg_pack_port(): UV_EBUSY). Pending calls keep the
 * caller's loop alive, as libuv's requests do, even when the port is unref'd.
 */
#ifndef UVACTOR_CALL_H
#define UVACTOR_CALL_H

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A call (its fields: struct uva_call_s). Caller-allocated, as libuv's requests are: keep it valid, never
 * copy or move it, from uva_port_call() until its callback ran. */
typedef struct uva_call_s uva_call_t;

/* A call completed: status as above; reply is the callback's (free it or keep it) for status 0 and > 0, else
 * NULL. From the callback on, the call handle's memory is the caller's again: it may be freed or reused for
 * another call at once. Runs on the caller's loop. */
typedef void (*uva_call_cb)(uva_call_t *call, int status, uva_msg_t *reply);

/* Private: what a call handle holds after UVA_HANDLE_FIELDS. */
#define UVA_CALL_PRIVATE_FIELDS \
  uva_port_t *port_;            \
  uva_call_cb cb_;              \
  uva_msg_t *reply_;            \
  uint64_t id_;                 \
  uint64_t deadline_;           \
  struct uva__link_s link_;     \
  int status_;                  \
  uint32_t heap_index_;

/* One call, caller-allocated as libuv's requests are. Public: data. Read-only: loop (the caller's loop, set
 * by uva_port_call()) and type (UVA_CALL). Needs no initialization: uva_port_call() sets it up. */
struct uva_call_s {
  UVA_HANDLE_FIELDS
  UVA_CALL_PRIVATE_FIELDS
};

/* Posts request on port, a started port of the calling thread's loop, and runs cb(call, status, reply) once
 * the answer comes or the call fails (see the status list above), on that loop, never from inside this call.
 * timeout_ms < 0 (UVA_WAIT_FOREVER): no timeout; >= 0: the deadline is that long from now in the loop's time,
 * as uv_timer_start() counts (uv_now(): the time at the start of the loop's turn; call uv_update_time() first
 * to count from this very moment). Once the deadline passed (the loop's timers find it so), the port judges
 * the call in its next delivery, after the deliveries that come before it in that turn: an answer queued to
 * the port by then wins, and the call completes with it in its place in the queue. Else UV_ETIMEDOUT. So 0
 * means "answered if the answer is queued when the port next delivers": by a callee on this loop that
 * answers at once, wherever the call was made, or by one on another thread fast enough. On
 * success the request is consumed and call is pending until its callback; on failure nothing happened: no
 * callback will run and the request stays the caller's, unchanged. Thread: the port's loop's. Returns 0,
 * UV_EINVAL (NULL argument, port not started, or request is itself a request owed an answer: answer it, or
 * post it on), UV_EBUSY (call is the handle of a call pending on port: its callback has not run; that call
 * goes on unchanged; a handle pending on another port is not detected: never reuse one before its callback),
 * UV_EPERM (another thread's loop), UV_EBADF (port closed or transferred), UV_EPIPE (the channel is closed or
 * closing), UV_ENOMEM, UVA_EFORKED, or what uva_port_post() returns for the request: UV_EAGAIN (the peer's
 * queue is full), UV_E2BIG, UV_ELOOP, a UVA_E* code (malformed body). */
UVA_EXTERN int uva_port_call(uva_port_t *port, uva_call_t *call, uva_msg_t *request, int64_t timeout_ms,
                             uva_call_cb cb);

/* Cancels a pending call: its callback runs with UV_ECANCELED on the loop's next turn (not from inside this
 * call), and its answer, if one comes, is late. Thread: the call's loop's. Returns 0, UV_EINVAL (NULL, or no
 * call was made with this handle), UV_EALREADY (the call completed: its callback ran, or is due with its
 * status), UV_EPERM or UVA_EFORKED (a call of the parent of this process). */
UVA_EXTERN int uva_call_cancel(uva_call_t *call);

/* The call of a thread that runs no loop: posts request on port (not started) and waits up to timeout_ms
 * for the answer (the wait rule: UVA_WAIT_FOREVER no limit; 0 does not wait, UV_ETIMEDOUT unless the answer
 * is already there), counted from this call. Every other message queued to port, before or while it waits,
 * stays queued, in order, for a later receive: only the reply is taken out. Returns 0 with the reply in
 * *reply, the callee's code (> 0) with its error message in *reply, or a status of the list above:
 * UV_ETIMEDOUT, UV_ECONNRESET, UV_EPIPE, and UV_ECANCELED when the wait was ended on an actor's thread (the
 * actor is ending); the reply, if it comes later, is late. Otherwise *reply is untouched.
 * The request: the codes that say it was not posted leave it the caller's, unchanged: UV_EINVAL (NULL
 * argument, or request owed an answer), UV_EBUSY (port started: use uva_port_call(); or another thread is
 * in uva_port_call_wait() on port: one at a time, so that neither takes the other's reply), UV_EBADF,
 * UV_EPERM, UV_ENOMEM, UVA_EFORKED and the post's own refusals (UV_EAGAIN: the peer's queue is full; this
 * call does not wait for room; UV_E2BIG, UV_ELOOP, UVA_E*). With every other result it was consumed, UV_EPIPE
 * included: a request for a closed channel is freed whether it was posted or not, so that UV_EPIPE says one
 * thing. Thread: the one thread using port (one that calls while another waits gets UV_EBUSY). */
UVA_EXTERN int uva_port_call_wait(uva_port_t *port, uva_msg_t *request, int64_t timeout_ms,
                                  uva_msg_t **reply);

/* 1 if msg is a request owed an answer (it arrived through uva_port_call() or uva_port_call_wait(), and was
 * not answered yet), else 0 (also for NULL). */
UVA_EXTERN int uva_msg_is_call(const uva_msg_t *msg);

/* Answers request with reply: reply is consumed on success (it becomes the caller's), request stays the
 * caller's (free it or keep it: it is a plain message from now on). The body of reply is validated as
 * uva_port_post() validates. Any thread that holds request; at most once per request. If the caller's call
 * completed meanwhile, the reply is late (freed at the caller) and this still returns 0. Returns 0, UV_EINVAL
 * (NULL, reply == request, request is not a request, or reply is a request owed an answer), UV_EALREADY
 * (answered before), UV_EPIPE (the caller's channel is closed: its call already failed), UV_ELOOP (reply
 * carries a port in whose queue the caller's port travels: nobody could ever take it), UV_ENOMEM, UV_E2BIG
 * or a UVA_E* code (the reply's body, as a post says), UVA_EFORKED; on failure nothing changed. */
UVA_EXTERN int uva_msg_reply(uva_msg_t *request, uva_msg_t *reply);

/* Answers request with an error: the call completes with status code, and its reply's body is text (copied;
 * NULL: empty) as a msgpack str. code must be > 0 (transport codes are negative). request stays the caller's.
 * Returns 0, UV_EINVAL (NULL request, code <= 0, or request is not a request), UV_EALREADY, UV_EPIPE,
 * UV_ENOMEM, UV_E2BIG (text over the default body limit, 64 MiB) or UVA_EFORKED. */
UVA_EXTERN int uva_msg_reply_error(uva_msg_t *request, int code, const char *text);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_CALL_H */
