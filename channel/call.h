/* Internal: the calls made through an end (include/uvactor/call.h is the contract; channel/call.c).
 *
 * An end that made a call keeps a uva__calls_t until the end goes, used only by the end's owner (its loop's
 * thread once started). The end's delivery and receive hand it the replies they meet; its close fails what
 * is still pending. */
#ifndef UVA_CHANNEL_CALL_H
#define UVA_CHANNEL_CALL_H

#include "channel/end.h"

typedef struct uva__calls_s uva__calls_t;

/* Frees calls (NULL is ignored); no call of its is pending. */
void uva__calls_free(uva__calls_t *calls);

/* end, which made calls, leaves its loop (closed, aborted or transferred): its timer goes, and its pending
 * calls no longer keep the loop alive. On the loop's thread. */
void uva__calls_leave_loop(uva__end_t *end);

/* Whether calls made through end are pending (their callbacks have not run). */
int uva__calls_pending(const uva__end_t *end);

/* A reply delivered on end's loop: its call's callback runs now, or the reply is late (freed, counted). */
void uva__calls_reply(uva__end_t *end, uva_msg_t *reply);

/* Replies a receive on end took out of its queue (a chain): each goes to its call, whose callback runs in
 * the end's delivery, or is late. On the end's owner thread. */
void uva__calls_route(uva__end_t *end, uva_msg_t *replies);

/* Runs the callbacks of end's calls that completed outside its delivery (STEP_CALLS of end.c), as many as
 * the end's share of this turn allows (uva__end_share_take()); the rest stay due for the next turn. Returns 0
 * once a callback made end leave the loop's delivery (closed, transferred): the caller stops. */
int uva__calls_run_due(uva__loop_t *loop, uva__end_t *end);

/* end's channel closed and end left its loop; its handle is retired. Every call still pending completes
 * with UV_EPIPE (those already due, with their own status), before the handle's close callback. */
void uva__calls_fail_all(uva__end_t *end);

/* The call counters of uva_port_stats(). */
void uva__calls_stats(const uva__end_t *end, uva_port_stats_t *stats);

#endif /* UVA_CHANNEL_CALL_H */
