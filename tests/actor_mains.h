/* What actors run in more than one actor suite. */
#ifndef UVA_TESTS_ACTOR_MAINS_H
#define UVA_TESTS_ACTOR_MAINS_H

#include "actor_check.h"
#include "int_msg.h"

static inline int return_three_main(uva_self_t *self) {
  (void)self;
  return 3;
}

/* Echoes each integer doubled; a negative one closes the channel. */
static inline void echo_on_message(uva_port_t *port, uva_msg_t *msg) {
  int64_t value = msg_int(msg);

  uva_msg_free(msg);
  if (value < 0)
    ACTOR_CHECK(uva_port_close(port) == 0);
  else
    ACTOR_CHECK(post_int(port, value * 2) == 0);
}

#endif /* UVA_TESTS_ACTOR_MAINS_H */
