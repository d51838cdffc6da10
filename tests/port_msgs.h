/* The messages the port suites post and read: a value, a moved buffer whose free is counted, a port. */
#ifndef UVA_TESTS_PORT_MSGS_H
#define UVA_TESTS_PORT_MSGS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "port_fixture.h"

/* A message whose body is one unsigned integer. */
static inline uva_msg_t *value_msg(uint64_t value) {
  uva_msg_t *msg;

  REQUIRE(uva_msg_new(&msg) == 0);
  REQUIRE(msgpack_pack_uint64(uva_msg_packer(msg), value) == 0);
  return msg;
}

static inline uint64_t msg_value(uva_msg_t *msg) {
  msgpack_object obj;

  REQUIRE(uva_msg_object(msg, &obj) == 0);
  REQUIRE(obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER);
  return obj.via.u64;
}

static inline void post_value(uva_port_t *port, uint64_t value) {
  uva_msg_t *msg = value_msg(value);
  int err = uva_port_post(port, msg);

  if (err != 0)
    ck_abort_msg("uva_port_post(%llu): %s", (unsigned long long)value, uva_err_name(err));
}

/* Posts first, first+1, ..., first+count-1. */
static inline void post_values(uva_port_t *port, uint64_t first, uint64_t count) {
  uint64_t i;

  for (i = 0; i < count; i++)
    post_value(port, first + i);
}

/* Takes the oldest queued message synchronously and returns its value. */
static inline uint64_t receive_value(uva_port_t *port) {
  uva_msg_t *msg;
  uint64_t value;
  int err = uva_port_receive(port, &msg);

  if (err != 0)
    ck_abort_msg("uva_port_receive: %s", uva_err_name(err));
  value = msg_value(msg);
  uva_msg_free(msg);
  return value;
}

/* Moved buffers freed through count_free: a message that is refused must still hold its buffer, and free it
 * exactly once when the caller frees the message. */
static atomic_int buffers_freed;

static inline void count_free(void *ptr) {
  free(ptr);
  atomic_fetch_add(&buffers_freed, 1);
}

/* A message whose body is one moved buffer, freed through count_free. */
static inline uva_msg_t *buffer_msg(void) {
  uva_msg_t *msg;
  void *data = malloc(16);

  REQUIRE(data != NULL);
  REQUIRE(uva_msg_new(&msg) == 0);
  REQUIRE(uva_msg_pack_buffer(msg, data, 16, count_free) == 0);
  return msg;
}

/* A message whose body is the transferred port. */
static inline uva_msg_t *port_msg(uva_port_t *port) {
  uva_msg_t *msg;
  int err;

  REQUIRE(uva_msg_new(&msg) == 0);
  err = uva_msg_pack_port(msg, port);
  if (err != 0)
    ck_abort_msg("uva_msg_pack_port: %s", uva_err_name(err));
  return msg;
}

/* Takes the port a port_msg() carries into *port (new, not started). */
static inline void take_port(uva_msg_t *msg, uva_port_t *port) {
  msgpack_object obj;

  REQUIRE(uva_msg_object(msg, &obj) == 0);
  REQUIRE(uva_msg_take_port(msg, &obj, port) == 0);
}

#endif /* UVA_TESTS_PORT_MSGS_H */
