/* Port and member stats: reading an endpoint's queues from any thread (uvactor/stats.h). */
#include <string.h>

#include "channel/call.h"
#include "channel/endpoint.h"

/* Whether a handle in state still points to its end (common/guard.h). */
static int has_end(unsigned int state) {
  return state == UVA__HANDLE_NEW || state == UVA__HANDLE_STARTED || state == UVA__HANDLE_CLOSING;
}

/* Enters a read of ep's queues from any thread: as a post does, it holds off a close or transfer (which waits
 * for it to leave), so the end stays alive while it is read. 0 (leave with uva__endpoint_leave_post()), or
 * the handle's error: a read is not a use that makes the port the caller's (it does not claim it). */
static int stats_enter(const uva__endpoint_t *ep) {
  uva__endpoint_t *guarded = (uva__endpoint_t *)ep; /* the guard's count is the one field it writes */
  unsigned int state;

  state = uva__guard_enter(&guarded->state_, &guarded->inflight_, has_end);
  if (!has_end(state))
    return state >= UVA__HANDLE_CLOSED && state <= UVA__HANDLE_DISCONNECTED ? UV_EBADF : UV_EINVAL; /* gone */
  /* An inherited end's lock may be held by a thread the child does not have. */
  if (!uva__end_inherited(ep->end_))
    return 0;
  uva__guard_leave(&guarded->inflight_);
  return UVA_EFORKED;
}

/* Reads ep's queue into *in and, for a port (port not NULL, in is &port->in), its peer's queue and its
 * calls' counters into *port. */
static int endpoint_stats(const uva__endpoint_t *ep, uva_queue_stats_t *in, uva_port_stats_t *port) {
  int err;

  if (ep == NULL || in == NULL)
    return UV_EINVAL;
  err = stats_enter(ep);
  if (err != 0)
    return err;
  uva__end_stats(ep->end_, in);
  if (port != NULL) {
    /* The peer's end lives as long as this one does: the pair goes with the last of them. */
    uva__end_stats(ep->end_->peer, &port->out);
    uva__calls_stats(ep->end_, port);
    memset(port->reserved, 0, sizeof(port->reserved));
  }
  uva__endpoint_leave_post((uva__endpoint_t *)ep);
  return 0;
}

int uva_port_stats(const uva_port_t *port, uva_port_stats_t *stats) {
  return endpoint_stats((const uva__endpoint_t *)port, stats != NULL ? &stats->in : NULL, stats);
}

int uva_broadcast_stats(const uva_broadcast_t *bc, uva_queue_stats_t *stats) {
  return endpoint_stats((const uva__endpoint_t *)bc, stats, NULL);
}
