/* Internal: the state every port and broadcast handle goes through, and the checks calls make on it. */
#ifndef UVA_CHANNEL_HANDLE_H
#define UVA_CHANNEL_HANDLE_H

#include "end.h"

/* Odd values, so a zeroed or never-initialized handle is refused rather than used. */
enum {
  UVA__HANDLE_NEW = 0x75610001,
  UVA__HANDLE_STARTED,
  UVA__HANDLE_CLOSING,
  UVA__HANDLE_CLOSED,
  UVA__HANDLE_TRANSFERRED
};

/* 0 if a handle in state (started on owner's loop) may be used by the calling thread; else the error. A
 * started or closing handle is used on its loop's thread only, unless any_thread. */
static inline int uva__handle_check(unsigned int state, const uv_thread_t *owner, int any_thread) {
  uv_thread_t self;

  switch (state) {
  case UVA__HANDLE_NEW:
    return 0;
  case UVA__HANDLE_STARTED:
  case UVA__HANDLE_CLOSING:
    if (any_thread)
      return 0;
    self = uv_thread_self();
    return uv_thread_equal(owner, &self) ? 0 : UV_EPERM;
  case UVA__HANDLE_CLOSED:
  case UVA__HANDLE_TRANSFERRED:
    return UV_EBADF;
  default:
    return UV_EINVAL;
  }
}

/* Whether a handle in state is attached to a loop. */
static inline int uva__handle_started(unsigned int state) {
  return state == UVA__HANDLE_STARTED || state == UVA__HANDLE_CLOSING;
}

/* For the actor layer (port.c). Marks a port as one that cannot be transferred. */
void uva__port_pin(uva_port_t *port);

/* Closes a port now, on its loop's thread if started: its close callback runs before this returns. */
void uva__port_abort(uva_port_t *port);

#endif /* UVA_CHANNEL_HANDLE_H */
