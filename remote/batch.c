/* A channel's small messages, sent a batch at a time.
 *
 * Each ZeroMQ frame costs both processes far more than the bytes in it: a zmq_send() or zmq_msg_recv()
 * each, an allocation for every frame over 33 bytes, ZeroMQ's I/O thread encoding and decoding it. A DATA
 * is two frames (three on a ROUTER), so a stream of small messages was bound by those costs. To a peer
 * whose node map says "batch", a message of at most BATCH_ENTRY_MAX bytes with no moved buffers is added
 * to its channel's batch instead, and the batch goes as one BATCH frame (wire.h) when the transport next
 * pumps its sockets: before the loop can block, so no message waits for others to come (a round trip's
 * one message goes alone, in the same turn it would have). What the loop's turn brought from the local end
 * goes together; a full batch goes at once.
 *
 * Order: every other frame about the channel (CLOSE, EXIT, CREDIT, a DATA that does not fit) sends the
 * batch first (chan_header_init()), so the peer sees the same sequence it would have without batches.
 */
#include <stdlib.h>
#include <string.h>

#include "remote/transport.h"

/* The largest message a batch takes, and a batch's largest body: far under the smallest max_message a node
 * may have (UVA_NODE_MAX_MESSAGE_MIN). */
#define BATCH_ENTRY_MAX (4 * 1024)
#define BATCH_MAX (32 * 1024)
#define BATCH_FIRST_CAP (4 * 1024)

/* Sends chan's batch, if it has one. A channel that failed, or lost its peer, drops it: its messages were
 * given their numbers, and the CLOSE that fails the channel tells the peer. A send that fails the channel
 * does not free it under the caller, which may be deep in the channel's code: it stays on the list, and the
 * pump that is due (rt_pump_soon() when it was listed) frees it if it is done. */
void chan_batch_flush(chan_t *chan) {
  uva__wire_header_t h;
  frame_t body = {0};
  int err;

  if (chan->batch_len == 0)
    return;
  body.data = chan->batch;
  body.len = chan->batch_len;
  chan->batch_len = 0; /* what the send's failure calls must not send again */
  if (chan->failed || chan->peer == NULL)
    return;
  chan_header_init(chan, &h, UVA__WIRE_BATCH);
  h.seq = chan->batch_seq;
  err = sock_send(chan->peer, &h, &body, 1);
  if (err == 0)
    return;
  chan->handling++;
  chan_fail(chan, err, "the transport could not send messages to the peer");
  chan->handling--;
}

void rt_flush_batches(rt_t *rt) {
  chan_t *chan;

  while (!uva__list_empty(&rt->batching)) {
    chan = uva__container_of(rt->batching.next, chan_t, batch_link);
    if (chan->batch_len > 0) {
      chan_batch_flush(chan);
      continue;
    }
    uva__list_remove(&chan->batch_link);
    chan->batch_listed = 0;
    chan_maybe_free(chan);
  }
}

/* Whether the batch can take a message of size bytes now: the peer reads batches, the message is small,
 * and the buffer has room (a full batch is sent first, a buffer too short for it grown). 0 also when the
 * buffer cannot grow: the message then goes as DATA. */
int chan_batch_room(chan_t *chan, size_t size) {
  size_t need = UVA__WIRE_ENTRY_SIZE + size;
  size_t cap;
  unsigned char *grown;

  if (!chan->peer->batch || size > BATCH_ENTRY_MAX)
    return 0;
  if (chan->batch_len + need > BATCH_MAX)
    chan_batch_flush(chan);
  if (chan->failed)
    return 0;
  if (chan->batch_len + need <= chan->batch_cap)
    return 1;
  cap = chan->batch_cap == 0 ? BATCH_FIRST_CAP : chan->batch_cap;
  while (cap < chan->batch_len + need)
    cap *= 2; /* at most BATCH_MAX, a power of two: the batch and the entry fit in it */
  grown = uva__realloc(chan->batch, cap);
  if (grown == NULL)
    return 0;
  chan->batch = grown;
  chan->batch_cap = cap;
  return 1;
}

/* Adds the DATA h says (its seq, call kind, id and status) with its body: after chan_batch_room(). The
 * loop's next pump sends it: asked for once, when the channel goes on the list, which only a pump empties. */
void chan_batch_add(chan_t *chan, const uva__wire_header_t *h, const void *body, size_t len) {
  uva__wire_entry_t e;
  rt_t *rt = chan->rt;

  if (chan->batch_len == 0)
    chan->batch_seq = h->seq;
  if (!chan->batch_listed) {
    chan->batch_listed = 1;
    uva__list_insert_tail(&rt->batching, &chan->batch_link);
    rt_pump_soon(rt);
  }
  e.call_kind = h->call_kind;
  e.status = h->status;
  e.call_id = h->call_id;
  e.len = (uint32_t)len;
  uva__wire_entry_encode(&e, chan->batch + chan->batch_len);
  memcpy(chan->batch + chan->batch_len + UVA__WIRE_ENTRY_SIZE, body, len);
  chan->batch_len += UVA__WIRE_ENTRY_SIZE + len;
}

void chan_batch_free(chan_t *chan) {
  if (chan->batch_listed)
    uva__list_remove(&chan->batch_link);
  chan->batch_len = chan->batch_cap = 0;
  free(chan->batch);
  chan->batch = NULL;
}
