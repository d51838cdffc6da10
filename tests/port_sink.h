/* A started port that checks what it receives: values in order, then one close (the port suites). */
#ifndef UVA_TESTS_PORT_SINK_H
#define UVA_TESTS_PORT_SINK_H

#include <stdint.h>

#include "port_fixture.h"
#include "port_msgs.h"

/* What a started port saw. Values must arrive as 0, 1, 2, ... (or from whatever next starts at). */
typedef struct {
  uint64_t next; /* the value expected next */
  uint64_t received;
  uint64_t out_of_order;      /* values that were not the one expected */
  uint64_t close_after;       /* close the port from its message callback after this many (0: never) */
  uint64_t received_at_close; /* received when the close callback ran */
  int closed;                 /* close callbacks run */
  uva_port_t *also_close;     /* closed from this port's close callback, or NULL */
} sink_t;

static inline void sink_take(sink_t *sink, uva_msg_t *msg) {
  uint64_t value = msg_value(msg);

  if (value != sink->next)
    sink->out_of_order++;
  sink->next = value + 1;
  sink->received++;
  uva_msg_free(msg);
}

static inline void on_sink_message(uva_port_t *port, uva_msg_t *msg) {
  sink_t *sink = port->data;

  sink_take(sink, msg);
  if (sink->received == sink->close_after)
    REQUIRE(uva_port_close(port) == 0);
}

static inline void on_sink_close(uva_port_t *port) {
  sink_t *sink = port->data;

  sink->closed++;
  sink->received_at_close = sink->received;
  if (sink->also_close != NULL)
    REQUIRE(uva_port_close(sink->also_close) == 0);
}

/* Starts port on loop with sink as its receiver (the sink is not reset: a transferred port continues one). */
static inline void start_sink(uva_port_t *port, uv_loop_t *loop, sink_t *sink) {
  port->data = sink;
  ck_assert_int_eq(uva_port_start(port, loop, on_sink_message, on_sink_close), 0);
}

/* Checks that a sink got exactly count in-order values, then exactly one close callback after the last. */
static inline void check_sink_closed(const sink_t *sink, uint64_t count) {
  ck_assert_uint_eq(sink->received, count);
  ck_assert_uint_eq(sink->out_of_order, 0);
  ck_assert_int_eq(sink->closed, 1);
  ck_assert_uint_eq(sink->received_at_close, count);
}

#endif /* UVA_TESTS_PORT_SINK_H */
