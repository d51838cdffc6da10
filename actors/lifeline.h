/* Internal: a lifeline, the port that tells a handle made of library memory that the loop it runs on is
 * being torn down.
 *
 * An actor's loop teardown closes the loop's ports first, in the order they were started, then its other
 * handles without their callbacks. A port started on the loop before anything the owner wants to hear about,
 * and never posted on, therefore closes first: its close callback, when the owner did not close it itself,
 * means the actor that runs the loop is ending, while the owner's timers and the ports started after it are
 * still there to close. The supervisor and the task pool each keep one. */
#ifndef UVA_ACTORS_LIFELINE_H
#define UVA_ACTORS_LIFELINE_H

#include "channel/endpoint.h"

/* Makes the channel lifeline and peer and starts lifeline on loop, unref'd (it does not keep the loop
 * alive), with data and close_cb; peer is never started and no actor's end closes it (pinned). 0, or the
 * error, and then neither is left. */
int uva__lifeline_start(uva_port_t *lifeline, uva_port_t *peer, uv_loop_t *loop, void *data,
                        uva_port_close_cb close_cb);

#endif /* UVA_ACTORS_LIFELINE_H */
