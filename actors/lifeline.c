/* Lifelines (actors/lifeline.h). */
#include "actors/lifeline.h"

static void on_lifeline_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg); /* nothing posts on it */
}

int uva__lifeline_start(uva_port_t *lifeline, uva_port_t *peer, uv_loop_t *loop, void *data,
                        uva_port_close_cb close_cb) {
  int err;

  err = uva_channel_init(lifeline, peer);
  if (err != 0)
    return err;
  uva__port_pin(peer);
  lifeline->data = data;
  err = uva_port_start(lifeline, loop, on_lifeline_message, close_cb);
  if (err != 0) {
    uva_port_close(lifeline); /* never started: no close callback */
    uva_port_close(peer);
    return err;
  }
  uva_port_unref(lifeline);
  return 0;
}
