/* Messages whose body is one integer, posted and read on any thread (the actor suites). */
#ifndef UVA_TESTS_INT_MSG_H
#define UVA_TESTS_INT_MSG_H

#include <stdint.h>

#include "uvactor.h"

/* A message whose body is one integer. Any thread. */
static inline uva_msg_t *int_msg(int64_t value) {
  uva_msg_t *msg = NULL;

  if (uva_msg_new(&msg) != 0)
    return NULL;
  msgpack_pack_int64(uva_msg_packer(msg), value);
  return msg;
}

/* The integer a message carries, or INT64_MIN for anything else. Any thread. */
static inline int64_t msg_int(uva_msg_t *msg) {
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) != 0)
    return INT64_MIN;
  if (obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
    return (int64_t)obj.via.u64;
  if (obj.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return obj.via.i64;
  return INT64_MIN;
}

/* Posts an integer; 0 or the error (the message is freed on error). Any thread. */
static inline int post_int(uva_port_t *port, int64_t value) {
  uva_msg_t *msg = int_msg(value);
  int err;

  if (msg == NULL)
    return UV_ENOMEM;
  err = uva_port_post(port, msg);
  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static inline void ignore_port_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

#endif /* UVA_TESTS_INT_MSG_H */
