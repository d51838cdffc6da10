/* Channels between nodes: open, accept, messages with their sequence numbers and credits, close, failure.
 *
 * Each channel has a local end on the transport's loop: a port (the other end of the program's port), or
 * the parent's side of an actor spawned here for a peer. What comes from the local end goes to the wire in
 * order, numbered 1, 2, 3 ... per direction (small messages a batch at a time: batch.c); what comes from
 * the wire is checked against those numbers
 * (a duplicate is dropped, a gap fails the channel: nothing is delivered twice, out of order, or lost
 * without a word) and posted to the local end, a run at a time: what one read of the socket brought goes in
 * one post (uva_port_post_many()), which wakes the program's loop once.
 *
 * Credits. Each side grants the other a window (window_messages, window_bytes) in its OPEN or ACCEPT. A
 * sender spends one message and the message's bytes per DATA and may send while it has a message left and
 * at least min(size, window_bytes / 2) bytes (so a message bigger than half the window still goes, once half
 * is free). A receiver earns the credit back when the program takes a message from the local queue, not when
 * the message enters it: so the local queue and the backlog (what a bounded local port that is full holds
 * back) are, together, within the window, whether the program reads or not. The transport counts what it
 * put in the local queue (queued, with each message's bytes), hears when enough of it was taken for a CREDIT
 * to be due, or all of it (uva_port_on_drain()), and reads how much is left (uva_port_stats()). It returns
 * credit on any frame it sends on the channel, or in a CREDIT frame once half of a window is owed. That
 * cannot deadlock: while less than half is owed, the sender has more than half a window to spend, and a
 * program that waits for more has taken everything, which is heard.
 *
 * The sender's side of the window is the local end's bound: its queue holds at most window_messages and
 * window_bytes of bodies (or one bigger message alone, uva_port_admit_oversized()), and while the credit is
 * spent the transport pauses it (uva_port_pause()), so a program posting faster than the peer takes gets
 * UV_EAGAIN and its writable callback, as on a bounded local port, and the transport holds at most one
 * message per channel that the credit did not cover.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/transport.h"

/* Bodies up to this size are copied into the frame; larger ones go without a copy, the message kept until
 * ZeroMQ is done with it. */
#define COPY_MAX (32 * 1024)

static void flush_outbox(chan_t *chan);
static void flush_backlog(chan_t *chan);
static void close_local(chan_t *chan);

/* ---- queues ---------------------------------------------------------------------------------------- */

int mq_push(mq_t *q, const mq_item_t *item) {
  if (q->len == q->cap) {
    size_t cap = q->cap == 0 ? 16 : q->cap * 2;
    mq_item_t *items = uva__malloc(cap * sizeof(*items));
    size_t i;
    if (items == NULL)
      return UV_ENOMEM;
    for (i = 0; i < q->len; i++)
      items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->head = 0;
    q->cap = cap;
  }
  q->items[(q->head + q->len) % q->cap] = *item;
  q->len++;
  return 0;
}

const mq_item_t *mq_peek(const mq_t *q) {
  return q->len == 0 ? NULL : &q->items[q->head];
}

const mq_item_t *mq_pop(mq_t *q) {
  const mq_item_t *item = mq_peek(q);

  if (item != NULL) {
    q->head = (q->head + 1) % q->cap;
    q->len--;
  }
  return item;
}

void mq_free_all(mq_t *q) {
  const mq_item_t *item;

  while ((item = mq_pop(q)) != NULL)
    uva_msg_free(item->msg);
  free(q->items);
  q->items = NULL;
  q->cap = q->head = 0;
}

/* ---- the local end --------------------------------------------------------------------------------- */

static uva_port_t *local_port(chan_t *chan) {
  return chan->kind == CHAN_ACTOR ? uva_actor_port(&chan->actor) : &chan->port;
}

/* The local end's queue holds at most the window; while the credit is spent, it is paused (the message that
 * found no credit waits in the outbox), so that its senders find it full: see the top of the file. */
static void bound_local(chan_t *chan) {
  uva_port_set_limits(local_port(chan), chan->rt->cfg->window_messages, chan->rt->cfg->window_bytes);
  uva_port_admit_oversized(local_port(chan), 1);
  /* What the peer's ZeroMQ would refuse, dropping the whole connection, is refused at the post (UV_E2BIG). */
  uva_port_set_max_message(local_port(chan), (size_t)chan->peer->max_message);
}

static void pause_local(chan_t *chan, int on) {
  if (!chan->local_closed && !chan->local_closing && local_port(chan)->loop != NULL) {
    if (on)
      uva_port_pause(local_port(chan));
    else
      uva_port_resume(local_port(chan));
  }
}

/* ---- frames ---------------------------------------------------------------------------------------- */

int chan_header_init(chan_t *chan, uva__wire_header_t *h, int type) {
  int failed = chan->failed;

  if (type != UVA__WIRE_BATCH)
    chan_batch_flush(chan);
  memset(h, 0, sizeof(*h));
  h->type = (uint8_t)type;
  h->flags = chan->opener ? UVA__WIRE_FLAG_OPENER : 0;
  h->session = chan->peer->session;
  h->channel = chan->id;
  /* Credit rides on every frame about the channel. */
  h->credit_messages = (uint32_t)chan->owed_messages;
  h->credit_bytes = chan->owed_bytes;
  chan->rx_credit_messages += (int64_t)chan->owed_messages;
  chan->rx_credit_bytes += (int64_t)chan->owed_bytes;
  chan->owed_messages = chan->owed_bytes = 0;
  chan->drain_step = 0; /* counted again from what is owed now */
  return chan->failed && !failed ? UV_EPIPE : 0;
}

/* The window this side grants in its OPEN or ACCEPT. */
static void grant_window(chan_t *chan, uva__wire_header_t *h) {
  const uva__rnode_t *cfg = chan->rt->cfg;

  h->credit_messages += cfg->window_messages;
  h->credit_bytes += cfg->window_bytes;
  chan->rx_credit_messages += cfg->window_messages;
  chan->rx_credit_bytes += (int64_t)cfg->window_bytes;
}

/* The window a peer grants in its OPEN or ACCEPT, all of it this side's credit. A grant past PEER_WINDOW_MAX
 * bytes is taken as that, so that credit stays far from int64_t's end whatever the peer says. */
#define PEER_WINDOW_MAX ((uint64_t)1 << 62)

static void take_window(chan_t *chan, const uva__wire_header_t *h) {
  chan->peer_window_messages = h->credit_messages;
  chan->peer_window_bytes = h->credit_bytes < PEER_WINDOW_MAX ? h->credit_bytes : PEER_WINDOW_MAX;
  chan->credit_messages = (int64_t)chan->peer_window_messages;
  chan->credit_bytes = (int64_t)chan->peer_window_bytes;
}

/* Adds the credit a frame returns: 0, or UV_EPROTO if that would pass the window the peer granted (its
 * credit cannot come back twice), and then nothing is added. Weighed against the room left, not summed
 * first, so that no count of a peer's can wrap the sum. (The room is at most the window and one message:
 * a message bigger than half the window may take the credit below zero.) */
static int take_credit(chan_t *chan, const uva__wire_header_t *h) {
  uint64_t room_messages = (uint64_t)((int64_t)chan->peer_window_messages - chan->credit_messages);
  uint64_t room_bytes = (uint64_t)((int64_t)chan->peer_window_bytes - chan->credit_bytes);

  if (h->credit_messages > room_messages || h->credit_bytes > room_bytes)
    return UV_EPROTO;
  chan->credit_messages += h->credit_messages;
  chan->credit_bytes += (int64_t)h->credit_bytes;
  return 0;
}

static void send_simple(chan_t *chan, int type, int status, uint64_t seq) {
  uva__wire_header_t h;

  if (chan->peer == NULL || chan_header_init(chan, &h, type) != 0)
    return;
  h.status = status;
  h.seq = seq;
  sock_send(chan->peer, &h, NULL, 0);
}

/* A message left the local queue (taken by the program, or dropped): its credit is the peer's again. */
static void owe(chan_t *chan, size_t bytes) {
  const uva__rnode_t *cfg = chan->rt->cfg;

  chan->owed_messages++;
  chan->owed_bytes += bytes;
  chan->drain_step = 0;
  if (chan->owed_messages >= (cfg->window_messages + 1) / 2 || chan->owed_bytes >= cfg->window_bytes / 2)
    send_simple(chan, UVA__WIRE_CREDIT, 0, 0);
}

static int has_credit(const chan_t *chan, size_t size) {
  uint64_t half = chan->peer_window_bytes / 2;

  return chan->credit_messages >= 1 && chan->credit_bytes >= (int64_t)(size < half ? size : half);
}

static void free_msg(void *msg) {
  uva_msg_free(msg);
}

static void free_buffers(uva_msg_buffer_t *bufs, size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    (bufs[i].free_cb != NULL ? bufs[i].free_cb : free)(bufs[i].data);
}

/* 0 if a message of a body of len bytes and those buffers fits the peer's max_message, else UV_E2BIG and
 * text says so. The peer's ZeroMQ would not drop such a frame alone but the connection that carried it, and
 * with it every channel of the session: it never goes. The local end refuses such posts (bound_local()); this
 * is for what came before that was known (posted to a remote actor before its session), and for replies,
 * which no bound refuses. */
static int check_peer_max(const chan_t *chan, size_t len, const uva_msg_buffer_t *bufs, size_t n, char *text,
                          size_t size) {
  uint64_t max = chan->peer->max_message;
  size_t i;

  for (i = 0; i < n; i++)
    if (bufs[i].len > len)
      len = bufs[i].len;
  if (max == 0 || len <= max)
    return 0;
  snprintf(text, size,
           "a message (a body or moved buffer of %zu bytes) is over the peer's max_message (%llu)", len,
           (unsigned long long)max);
  return UV_E2BIG;
}

/* What an item counts for in has_credit(): a reply without a body sends one byte (nil). */
static size_t item_size(const mq_item_t *item) {
  return item->msg != NULL ? uva_msg_size(item->msg) : 1;
}

/* Sends a message, a request (held until its reply comes) or a reply. Consumes item->msg. */
static void send_data(chan_t *chan, const mq_item_t *queued) {
  static const char nil = (char)0xc0;
  uva_msg_buffer_t bufs[UVA__WIRE_MAX_ATTACH];
  frame_t frames[1 + UVA__WIRE_MAX_ATTACH];
  uva__wire_header_t h;
  mq_item_t copy = *queued; /* a queue's item lives until its queue changes: a failure frees the queue */
  mq_item_t none = {0};
  const mq_item_t *item = &copy;
  uva_msg_t *msg = item->msg;
  size_t bytes = item_size(item);
  size_t n = 0;
  size_t i;
  char text[128];
  int batched;
  int err;

  err = msg != NULL ? uva_msg_take_buffers(msg, bufs, UVA__WIRE_MAX_ATTACH, &n) : 0;
  if (err != 0) {
    uva_msg_free(msg);
    chan_fail(chan, err == UV_ENOBUFS ? UV_E2BIG : UV_EINVAL,
              err == UV_ENOBUFS
                  ? "a message carries more moved buffers than may cross (64)"
                  : "a message carrying a port or a shared buffer cannot cross to another node");
    return;
  }
  if (check_peer_max(chan, bytes, bufs, n, text, sizeof(text)) != 0) {
    free_buffers(bufs, n);
    uva_msg_free(msg);
    if (item->call_kind != UVA__WIRE_CALL_REPLY) {
      chan_fail(chan, UV_E2BIG, text);
      return;
    }
    /* A reply is owed, and the channel need not end for it: none goes instead, and the call fails there. */
    none.call_kind = UVA__WIRE_CALL_REPLY;
    none.call_id = item->call_id;
    none.status = UV_E2BIG;
    item = &none;
    msg = NULL;
    bytes = item_size(item);
  }
  batched = n == 0 && chan_batch_room(chan, bytes);
  if (chan->failed || (!batched && chan_header_init(chan, &h, UVA__WIRE_DATA) != 0)) {
    free_buffers(bufs, n); /* the batch, sent first, failed the channel */
    uva_msg_free(msg);
    return;
  }
  if (batched)
    memset(&h, 0, sizeof(h));
  h.call_kind = item->call_kind;
  h.call_id = item->call_id;
  h.status = item->status;
  if (item->call_kind == UVA__WIRE_CALL_REQUEST) {
    /* Held until its reply comes, or freed unanswered when the channel ends: its body is copied. */
    h.call_id = ++chan->next_call_id;
    if (held_put(&chan->held, h.call_id, msg) != 0) {
      free_buffers(bufs, n);
      uva_msg_free(msg);
      chan_fail(chan, UV_ENOMEM, "out of memory holding a request for its reply");
      return;
    }
  }
  h.seq = ++chan->tx_seq;
  chan->credit_messages--;
  chan->credit_bytes -= (int64_t)bytes;
  for (i = 0; i < n; i++)
    chan->credit_bytes -= (int64_t)bufs[i].len;
  if (batched) {
    chan_batch_add(chan, &h, msg != NULL ? uva_msg_data(msg) : &nil, bytes);
    if (item->call_kind != UVA__WIRE_CALL_REQUEST)
      uva_msg_free(msg);
    return;
  }
  h.nattach = (uint16_t)n;
  frames[0].data = msg != NULL ? uva_msg_data(msg) : &nil;
  frames[0].len = bytes;
  frames[0].free_cb =
      msg != NULL && bytes > COPY_MAX && item->call_kind != UVA__WIRE_CALL_REQUEST ? free_msg : NULL;
  frames[0].owner = msg;
  for (i = 0; i < n; i++) {
    frames[1 + i].data = bufs[i].data;
    frames[1 + i].len = bufs[i].len;
    frames[1 + i].free_cb = bufs[i].free_cb != NULL ? bufs[i].free_cb : free;
    frames[1 + i].owner = NULL;
  }
  err = sock_send(chan->peer, &h, frames, 1 + n);
  if (frames[0].free_cb == NULL && item->call_kind != UVA__WIRE_CALL_REQUEST)
    uva_msg_free(msg);
  if (err != 0) /* its number is spent: the channel cannot go on without it */
    chan_fail(chan, err, "the transport could not send a message to the peer");
}

/* Sends item now if nothing waits before it and the credit allows, else queues it (pausing the local end).
 * Consumes item->msg. */
static void chan_send_item(chan_t *chan, const mq_item_t *item) {
  if (chan->failed || chan->close_rcvd || chan->peer == NULL || !chan->open) {
    uva_msg_free(item->msg); /* nobody there will read it (a request: its call fails with the channel) */
    return;
  }
  if (chan->outbox.len > 0 || !has_credit(chan, item_size(item))) {
    if (mq_push(&chan->outbox, item) != 0) {
      uva_msg_free(item->msg);
      chan_fail(chan, UV_ENOMEM, "out of memory queueing a message for the peer");
      return;
    }
    pause_local(chan, 1);
    return;
  }
  send_data(chan, item);
}

/* A message from the local end, for the peer: a request when a call made it. */
static void chan_send(chan_t *chan, uva_msg_t *msg) {
  mq_item_t item = {0};

  item.msg = msg;
  item.call_kind = uva_msg_is_call(msg) ? UVA__WIRE_CALL_REQUEST : UVA__WIRE_CALL_NONE;
  chan_send_item(chan, &item);
}

/* The exit's body, [text or nil]; without memory for the text, [nil]: the code still goes, or the peer
 * would never hear that its actor ended. */
static void send_exit(chan_t *chan) {
  static const char no_text[] = {'\x91', '\xc0'};
  uva__wire_header_t h;
  msgpack_packer *pk;
  frame_t body = {0};
  uva_msg_t *msg = NULL;
  int err;

  chan->exit_pending = 0;
  if (chan->peer == NULL)
    return;
  body.data = no_text;
  body.len = sizeof(no_text);
  if (chan->error_text != NULL && uva_msg_new(&msg) == 0) {
    pk = uva_msg_packer(msg);
    msgpack_pack_array(pk, 1);
    msgpack_pack_str_with_body(pk, chan->error_text, strlen(chan->error_text));
    body.data = uva_msg_data(msg);
    body.len = uva_msg_size(msg);
  }
  if (chan_header_init(chan, &h, UVA__WIRE_EXIT) != 0) {
    uva_msg_free(msg);
    return;
  }
  h.status = chan->exit_code;
  h.seq = chan->tx_seq;
  err = sock_send(chan->peer, &h, &body, 1);
  uva_msg_free(msg);
  if (err != 0) { /* the CLOSE that fails the channel tells the peer instead */
    chan_fail(chan, err, "the transport could not send the actor's exit to the peer");
    return;
  }
  chan->close_sent = 1;
}

/* Sends what the credit allows, then what waited for an empty outbox (CLOSE, EXIT). */
static void flush_outbox(chan_t *chan) {
  const mq_item_t *item;
  size_t before = chan->outbox.len;

  /* The peer closed and reads no more: what waits for its credit would wait for ever, and the CLOSE that
   * answers its own with it. */
  if (chan->close_rcvd)
    mq_free_all(&chan->outbox);
  chan->handling++; /* a send that fails the channel must not free it under this loop */
  while ((item = mq_peek(&chan->outbox)) != NULL && !chan->failed && has_credit(chan, item_size(item)))
    send_data(chan, mq_pop(&chan->outbox));
  chan->handling--;
  if (chan->failed || chan->outbox.len > 0) {
    chan_maybe_free(chan);
    return;
  }
  if (before > 0)
    pause_local(chan, 0);
  if (chan->exit_pending)
    send_exit(chan);
  else if (chan->kind != CHAN_ACTOR && chan->local_closed && !chan->close_sent && chan->open) {
    chan->close_sent = 1;
    send_simple(chan, UVA__WIRE_CLOSE, 0, chan->tx_seq);
  }
  chan_maybe_free(chan);
}

/* ---- delivery to the local end --------------------------------------------------------------------- */

static void on_port_writable(uva_port_t *port);
static void on_actor_writable(uva_port_t *port);

/* The callee's error, as the peer's reply carries it: its code, and its text as the body (a str). */
static int reply_error(uva_msg_t *request, int code, uva_msg_t *body) {
  msgpack_object obj;
  char *text = NULL;
  int err;

  if (uva_msg_object(body, &obj) == 0 && obj.type == MSGPACK_OBJECT_STR)
    text = uva__strndup(obj.via.str.ptr, obj.via.str.size);
  err = uva_msg_reply_error(request, code, text);
  free(text);
  return err;
}

/* A request from the peer, made a call on the local end: its answer goes back as a reply. */
typedef struct {
  uva_call_t call;
  chan_t *chan;
  uint64_t id; /* the peer's */
} rcall_t;

static void on_call_done(uva_call_t *call, int status, uva_msg_t *reply) {
  rcall_t *rc = uva__container_of(call, rcall_t, call);
  chan_t *chan = rc->chan;
  rt_t *rt = chan->rt; /* the send may end the channel */
  mq_item_t item = {0};

  if (status == UV_EPIPE) {
    /* The local channel closed first, and its CLOSE (or EXIT) goes next: the caller's pending calls fail
     * with UV_EPIPE then, as on a local channel. A reply would complete this one first, and a reply's
     * negative status says only that the request was freed unanswered (UV_ECONNRESET). */
    free(rc);
    return;
  }
  item.msg = reply;
  item.call_kind = UVA__WIRE_CALL_REPLY;
  item.call_id = rc->id;
  item.status = status;
  free(rc);
  chan_send_item(chan, &item); /* a channel that is ending frees it: the caller's call fails with it */
  rt_pump(rt);
}

/* Hands a call's item to the local end: a request is called, a reply answers the request held. 0, UV_EAGAIN
 * (the local end is full: item stays the caller's), or another error (item was freed). */
static int hand_over_call(chan_t *chan, const mq_item_t *item) {
  uva_msg_t *request;
  rcall_t *rc;
  int err;

  if (item->call_kind == UVA__WIRE_CALL_REPLY) {
    /* Replies are owed: the local end's bounds never refuse them. One for no call here is late. */
    request = held_take(&chan->held, item->call_id);
    err = 0;
    if (request != NULL && item->status == 0)
      err = uva_msg_reply(request, item->msg);
    else if (request != NULL && item->status > 0)
      err = reply_error(request, item->status, item->msg);
    if (request == NULL || item->status != 0 || err != 0)
      uva_msg_free(item->msg);
    uva_msg_free(request); /* answered; or, status < 0, unanswered: the call completes with UV_ECONNRESET */
    return 0;
  }
  rc = uva__malloc(sizeof(*rc));
  err = UV_ENOMEM;
  if (rc != NULL) {
    rc->chan = chan;
    rc->id = item->call_id;
    err = uva_port_call(local_port(chan), &rc->call, item->msg, UVA_WAIT_FOREVER, on_call_done);
  }
  if (err != 0 && err != UV_EAGAIN)
    uva_msg_free(item->msg); /* the caller hears from the channel (flush_backlog()) */
  if (err != 0)
    free(rc);
  return err;
}

static uva_port_writable_cb local_room_cb(const chan_t *chan) {
  return chan->kind == CHAN_ACTOR ? on_actor_writable : on_port_writable;
}

/* How many of the messages in the local queue must be taken for a CREDIT to be due (owe()): the messages
 * owed, or fewer if their bytes reach half the window first. This runs for most messages that come, so the
 * queue is not walked: the bytes up to each message are running totals (upto), searched in halves. */
static size_t drain_step(const chan_t *chan) {
  const uva__rnode_t *cfg = chan->rt->cfg;
  uint64_t half = (cfg->window_messages + 1) / 2;
  uint64_t need = chan->owed_messages < half ? half - chan->owed_messages : 1;
  uint64_t goal = cfg->window_bytes / 2;
  const mq_t *q = &chan->queued;
  uint64_t before;
  size_t lo = 1;
  size_t hi = q->len < need - 1 ? q->len : (size_t)need - 1;
  size_t mid;

#define TAKEN(k) (chan->owed_bytes + q->items[(q->head + (k)-1) % q->cap].upto - before)
  if (hi == 0)
    return (size_t)need;
  before = q->items[q->head].upto - q->items[q->head].bytes;
  if (TAKEN(hi) < goal)
    return (size_t)need;
  while (lo < hi) {
    mid = lo + (hi - lo) / 2;
    if (TAKEN(mid) >= goal)
      hi = mid;
    else
      lo = mid + 1;
  }
#undef TAKEN
  return lo;
}

/* Asks to hear when the program has taken enough of the local queue for a CREDIT to be due, or all of it:
 * so the credit goes back as the program reads, and never waits for ever (a program that waits for more has
 * taken everything). Not while the backlog waits for room: that callback comes first. */
static void watch_drain(chan_t *chan) {
  size_t target;

  if (chan->queued.len == 0 || chan->backlog.len > 0 || chan->local_closing || chan->local_closed)
    return;
  if (chan->drain_step == 0)
    chan->drain_step = drain_step(chan);
  target = chan->queued.len > chan->drain_step ? chan->queued.len - chan->drain_step : 0;
  /* Asked already, for as soon or not much later (a quarter of a step): not asked again for every message
   * that comes, which would take the local queue's lock once more per message. */
  if (chan->drain_asked && target < chan->drain_target + chan->drain_step / 4 + 1)
    return;
  if (uva_port_on_drain(local_port(chan), target, local_room_cb(chan)) == 0) {
    chan->drain_asked = 1;
    chan->drain_target = target;
  }
}

/* Gives back the credit of what the program took from the local queue: it takes in order, so the oldest.
 * Taken as the queue's bounds count it (pending): a message its loop delivered leaves that count only when
 * the loop settles its batch, and until then it is still in the port's queue and high water; counted gone
 * once delivered (queued), its credit came back early and the queue held the window and the rest of a
 * batch (test_peer_killed: 1061 of 1024). What else waits there (the replies to its own calls) only makes
 * the count larger: credit never goes back early. */
static void settle_taken(chan_t *chan) {
  uva_port_stats_t stats;

  if (chan->queued.len == 0 || uva_port_stats(local_port(chan), &stats) != 0)
    return;
  while (chan->queued.len > stats.out.pending)
    owe(chan, mq_pop(&chan->queued)->bytes);
}

/* An item handed to the local end: a message or a request waits in its queue, and its credit with it,
 * until the program takes it; a reply (owed to the program's own call) and a dropped message give theirs
 * back at once. */
static void handed_over(chan_t *chan, const mq_item_t *item, int entered) {
  mq_item_t size = {0};

  size.bytes = item->bytes;
  size.upto = chan->queued_upto + item->bytes;
  if (!entered || item->call_kind == UVA__WIRE_CALL_REPLY || mq_push(&chan->queued, &size) != 0) {
    owe(chan, item->bytes);
    return;
  }
  chan->queued_upto = size.upto;
  if (chan->queued.len <= chan->drain_step)
    chan->drain_step = 0;
}

/* The most messages posted to the local end in one step. */
#define RUN_MAX 256

/* Posts the run of plain messages at the backlog's head (up to RUN_MAX) to the local end in one step
 * (uva_port_post_many()): its loop is woken once for the run, not once per message it finds its queue empty
 * for, and its lock is taken once. Those that went are handed over and off the backlog. 0 if any went; else
 * what posting the first returned: UV_EAGAIN (the local end is full: it stays), or another error (it was
 * freed, and stays on the backlog for the caller to take off). */
static int post_run(chan_t *chan) {
  uva_msg_t *run[RUN_MAX];
  const mq_t *q = &chan->backlog;
  const mq_item_t *item;
  size_t posted;
  size_t n;
  int err;

  for (n = 0; n < q->len && n < RUN_MAX; n++) {
    item = &q->items[(q->head + n) % q->cap];
    if (item->call_kind != UVA__WIRE_CALL_NONE)
      break;
    run[n] = item->msg;
  }
  err = uva_port_post_many(local_port(chan), run, n, &posted);
  if (err != 0 && err != UV_EAGAIN)
    uva_msg_free(run[0]);
  while (posted-- > 0)
    handed_over(chan, mq_pop(&chan->backlog), 1);
  return err;
}

/* Hands what waits in the backlog to the local end, until it is full. */
static void flush_backlog(chan_t *chan) {
  const mq_item_t *item;
  int err;

  if (chan->flush_due) {
    chan->flush_due = 0;
    uva__list_remove(&chan->flush_link);
  }
  while ((item = mq_peek(&chan->backlog)) != NULL) {
    if (item->call_kind == UVA__WIRE_CALL_NONE) {
      err = post_run(chan);
      if (err == 0)
        continue;
    } else {
      err = hand_over_call(chan, item);
    }
    if (err == UV_EAGAIN) {
      if (uva_port_on_writable(local_port(chan), local_room_cb(chan)) == 0) {
        chan->drain_asked = 0; /* replaced: room comes only as the program takes */
        return;
      }
      uva_msg_free(item->msg); /* the local end is closing: nobody will read it */
    }
    handed_over(chan, mq_pop(&chan->backlog), err == 0);
    if (err != 0 && err != UV_EAGAIN && err != UV_EPIPE && err != UV_EBADF) {
      /* Refused for good (a message over the local port's own max_bytes: UV_E2BIG; no memory): its post
       * over there returned 0, so it may not go missing without a word. A local end that is closing, from
       * the program's side (UV_EPIPE) or from this one (UV_EBADF: the node closes it), drops what comes, as
       * a closed port does, its credit given back so that the peer can finish; its close tells the peer. */
      char text[128];
      snprintf(text, sizeof(text), "the local port refused a message from the peer (%s)", uva_err_name(err));
      chan_fail(chan, err, text);
      return;
    }
  }
  if (chan->close_rcvd) {
    close_local(chan);
    return;
  }
  /* A CREDIT may be due already: the program takes its messages as they come, and its queue's counters
   * say so before its loop's turn ends (the drain callback comes after). */
  if (chan->drain_step != 0 && chan->queued.len >= chan->drain_step)
    settle_taken(chan);
  watch_drain(chan);
}

/* The program took messages from the local queue: their credit goes back, and what waited for room goes. */
static void on_local_room(chan_t *chan) {
  chan->drain_asked = 0;
  settle_taken(chan);
  flush_backlog(chan);
}

static void on_port_writable(uva_port_t *port) {
  chan_t *chan = port->data;
  rt_t *rt = chan->rt; /* the flush may end the channel */

  on_local_room(chan);
  rt_pump(rt);
}

static void on_actor_writable(uva_port_t *port) {
  chan_t *chan = uva__container_of(port, chan_t, actor.port_);
  rt_t *rt = chan->rt;

  on_local_room(chan);
  rt_pump(rt);
}

/* A message from the peer waits in the backlog until the socket it came on has been read as far as it goes
 * (chan_flush_deliveries()), so that what came together is posted to the local end together (post_run()).
 * A backlog that was not empty is waiting already: for room, or on the list. */
static void deliver(chan_t *chan, const mq_item_t *item) {
  if (mq_push(&chan->backlog, item) != 0) {
    uva_msg_free(item->msg);
    chan_fail(chan, UV_ENOMEM, "out of memory queueing a message from the peer");
    return;
  }
  if (chan->backlog.len == 1) {
    chan->flush_due = 1;
    uva__list_insert_tail(&chan->rt->flushing, &chan->flush_link);
  }
}

void chan_flush_deliveries(rt_t *rt) {
  chan_t *chan;

  while (!uva__list_empty(&rt->flushing)) {
    chan = uva__container_of(rt->flushing.next, chan_t, flush_link);
    chan->handling++; /* the flush may fail it: not freed under it */
    flush_backlog(chan);
    chan->handling--;
    chan_maybe_free(chan);
  }
}

/* ---- the local end's callbacks --------------------------------------------------------------------- */

static void on_port_message(uva_port_t *port, uva_msg_t *msg) {
  chan_send(port->data, msg);
}

static void on_port_close(uva_port_t *port) {
  chan_t *chan = port->data;

  chan->local_closed = 1;
  if (chan->failed || chan->peer == NULL || !chan->open)
    chan_maybe_free(chan);
  else
    flush_outbox(chan); /* sends CLOSE once the outbox is empty */
}

static void on_actor_online(uva_actor_t *actor) {
  chan_t *chan = uva__container_of(actor, chan_t, actor);
  uva__wire_header_t h;

  if (chan->peer == NULL || chan->failed)
    return;
  chan->open = 1;
  chan_header_init(chan, &h, UVA__WIRE_ACCEPT);
  grant_window(chan, &h);
  sock_send(chan->peer, &h, NULL, 0);
  bound_local(chan);
  flush_outbox(chan);
}

/* An actor's messages come after its online event, which opened the channel. */
static void on_actor_message(uva_actor_t *actor, uva_msg_t *msg) {
  chan_send(uva__container_of(actor, chan_t, actor), msg);
}

/* An actor's error text (uva_self_fail(): at most UVA_FAIL_TEXT_MAX bytes; the library's own are short)
 * crosses in an EXIT frame that no max_message can refuse: the smallest a node accepts holds it. */
_Static_assert(UVA_FAIL_TEXT_MAX + 64 <= UVA_NODE_MAX_MESSAGE_MIN,
               "an error text must fit any peer's max_message");

static void on_actor_error(uva_actor_t *actor, const char *text) {
  chan_t *chan = uva__container_of(actor, chan_t, actor);

  free(chan->error_text);
  chan->error_text = uva__strdup(text);
}

static void on_actor_exit(uva_actor_t *actor, int exit_code) {
  chan_t *chan = uva__container_of(actor, chan_t, actor);
  rt_t *rt = chan->rt; /* the flush may end the channel */

  chan->local_closed = 1;
  chan->exit_code = exit_code;
  if (chan->failed || chan->peer == NULL) {
    chan_maybe_free(chan);
    return;
  }
  chan->exit_pending = 1;
  flush_outbox(chan);
  rt_pump(rt);
}

static void on_control_message(uva_port_t *port, uva_msg_t *msg) {
  chan_t *chan = port->data;

  /* The only command on a remote actor's control port: terminate. Before the actor is online it waits for
   * the ACCEPT; before the OPEN went, the actor never runs at all. */
  uva_msg_free(msg);
  if (chan->failed || chan->close_rcvd)
    return;
  if (chan->open)
    send_simple(chan, UVA__WIRE_TERMINATE, 0, 0);
  else if (chan->peer == NULL)
    chan_fail(chan, UVA_EXIT_TERMINATED, "terminated before its node was reached");
  else
    chan->terminate_pending = 1;
}

static void on_control_close(uva_port_t *port) {
  chan_t *chan = port->data;

  chan->reply.data = NULL;
  chan_maybe_free(chan);
}

/* ---- the channel's life ---------------------------------------------------------------------------- */

chan_t *chan_new(rt_t *rt, int kind) {
  chan_t *chan = uva__calloc(1, sizeof(*chan));

  if (chan == NULL)
    return NULL;
  chan->rt = rt;
  chan->kind = kind;
  chan->port.data = chan;
  chan->reply.data = NULL;
  uva__list_init(&chan->link);
  rt->nchans++;
  return chan;
}

static int chan_done(const chan_t *chan) {
  if (chan->handling)
    return 0;
  switch (chan->kind) {
  case CHAN_PORT:
    return chan->local_closed &&
           (chan->failed || chan->peer == NULL || (chan->close_sent && chan->close_rcvd));
  case CHAN_ACTOR:
    return chan->local_closed && !chan->exit_pending;
  default: /* RACTOR: its exit reported, its data port closed, its control port closed */
    return chan->close_rcvd && chan->local_closed && chan->reply.data == NULL;
  }
}

void chan_maybe_free(chan_t *chan) {
  rt_t *rt = chan->rt;

  if (!chan_done(chan))
    return;
  uva__list_remove(&chan->link);
  if (chan->flush_due)
    uva__list_remove(&chan->flush_link);
  chan_batch_free(chan);
  mq_free_all(&chan->outbox);
  mq_free_all(&chan->backlog);
  mq_free_all(&chan->queued);
  held_free_all(&chan->held);
  uva_msg_free(chan->init);
  free(chan->name);
  free(chan->target);
  free(chan->actor_name);
  free(chan->error_text);
  free(chan);
  rt->nchans--;
  rt_maybe_finish(rt);
}

/* Posts the open's answer (PORT) or the remote actor's event (RACTOR) to the program's side. */
/* 0, or the error that kept the answer from the program. */
static int answer(chan_t *chan, const char *what, int status, const char *text) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  int err;

  if (chan->reply.data == NULL && chan->kind == CHAN_RACTOR)
    return 0;
  err = uva_msg_new(&msg);
  if (err != 0)
    return err;
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 4);
  msgpack_pack_str_with_body(pk, what, strlen(what));
  msgpack_pack_int(pk, status);
  msgpack_pack_uint64(pk, chan->id);
  if (text != NULL)
    msgpack_pack_str_with_body(pk, text, strlen(text));
  else
    msgpack_pack_nil(pk);
  err = uva_port_post(&chan->reply, msg);
  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static void close_local(chan_t *chan) {
  if (chan->local_closing || chan->local_closed || chan->lookup_pending)
    return; /* a lookup under way has no port yet: its answer sees the channel failed */
  chan->local_closing = 1;
  if (chan->kind == CHAN_ACTOR) {
    uva_port_close(uva_actor_port(&chan->actor)); /* the actor's port sees the close, as from a parent */
    return;
  }
  if (chan->port.loop == NULL) {
    /* Never started (the open failed): closed on return, without a callback. */
    uva_port_close(&chan->port);
    chan->local_closed = 1;
    return;
  }
  uva_port_close(&chan->port);
}

/* Ends the channel for status; the event names the peer (peer_name: the channel's peer may be gone). */
static void fail(chan_t *chan, int status, const char *text, const char *peer_name) {
  rt_t *rt = chan->rt;
  int was_open = chan->open;

  if (chan->failed)
    return;
  /* What came before the failure goes to the local end first, as it would have without waiting for the end
   * of its socket's read (deliver()). */
  chan->handling++; /* either flush may fail it first (a refused message, a failed send): not freed under them
                     */
  if (chan->flush_due)
    flush_backlog(chan);
  /* What was numbered for the peer goes before the CLOSE, as it would have without batches: the CLOSE's seq
   * counts it. */
  chan_batch_flush(chan);
  chan->handling--;
  if (chan->failed) {
    chan_maybe_free(chan);
    return;
  }
  chan->failed = 1;
  /* Off the waiting list (a no-op for a channel of a peer): a session that comes now must not open it, and
   * the node's close, which fails the list's head until it is empty, must not find it again. */
  if (chan->peer == NULL)
    uva__list_remove(&chan->link);
  if (was_open && !rt->closing)
    rt_event(rt, UVA_NODE_CHANNEL_DOWN, peer_name, NULL,
             chan->opener ? chan->id : chan->id | UVA_NODE_CHANNEL_PEER, status, text);
  /* What waits in the queues, and the requests held, are freed with the channel, once its local end is
   * closed: so the calls they carry fail with UV_EPIPE, as a closed channel says, not with UV_ECONNRESET.
   * Nothing is sent or delivered from now on. */
  /* Tell the peer, unless it is the one that is gone; an open given up before its ACCEPT (timed out,
   * terminated, the node closing) too, so that the peer closes what its holder accepted for it, or ends the
   * actor it spawned for it, rather than keep them for an opener that forgot them. */
  if (chan->peer != NULL && (was_open || chan->open_sent) && !chan->close_sent) {
    chan->close_sent = 1;
    send_simple(chan, UVA__WIRE_CLOSE, status, chan->tx_seq);
  }
  switch (chan->kind) {
  case CHAN_PORT:
    if (!was_open && chan->opener) {
      answer(chan, "open", status, text);
      uva_port_close(&chan->reply);
    }
    close_local(chan);
    break;
  case CHAN_ACTOR:
    mq_free_all(&chan->backlog); /* to the actor, which is terminated: dropped, as a terminate drops them */
    if (!chan->local_closed) {
      pause_local(chan, 0); /* its exit waits for its port to drain */
      uva_actor_terminate(&chan->actor);
    }
    break;
  default: /* RACTOR: its exit, with the code the program can tell apart */
    chan->close_rcvd = 1;
    answer(chan, "exit", was_open && chan->peer == NULL ? UVA_EXIT_DISCONNECTED : status, text);
    if (chan->reply.data != NULL)
      uva_port_close(&chan->reply);
    close_local(chan);
  }
  chan_maybe_free(chan);
}

void chan_fail(chan_t *chan, int status, const char *text) {
  fail(chan, status, text, chan->peer != NULL ? chan->peer->name : NULL);
}

/* ---- opening --------------------------------------------------------------------------------------- */

static void send_open(chan_t *chan) {
  uva_msg_buffer_t bufs[UVA__WIRE_MAX_ATTACH];
  frame_t frames[1 + UVA__WIRE_MAX_ATTACH];
  uva__wire_header_t h;
  msgpack_packer *pk;
  uva_msg_t *body;
  size_t n = 0;
  size_t i;
  char text[128];
  int err;

  if (chan->init != NULL && uva_msg_take_buffers(chan->init, bufs, UVA__WIRE_MAX_ATTACH, &n) != 0) {
    chan_fail(chan, UV_EINVAL, "the init message carries what cannot cross to another node");
    return;
  }
  if (uva_msg_new(&body) != 0) {
    free_buffers(bufs, n);
    chan_fail(chan, UV_ENOMEM, "out of memory");
    return;
  }
  pk = uva_msg_packer(body);
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, chan->kind == CHAN_RACTOR ? UVA__WIRE_OPEN_SPAWN : UVA__WIRE_OPEN_NAME);
  msgpack_pack_str_with_body(pk, chan->target, strlen(chan->target));
  if (chan->actor_name != NULL)
    msgpack_pack_str_with_body(pk, chan->actor_name, strlen(chan->actor_name));
  else
    msgpack_pack_nil(pk);
  if (chan->init != NULL)
    msgpack_pack_bin_with_body(pk, uva_msg_data(chan->init), uva_msg_size(chan->init));
  else
    msgpack_pack_nil(pk);
  if (check_peer_max(chan, uva_msg_size(body), bufs, n, text, sizeof(text)) != 0) {
    free_buffers(bufs, n);
    uva_msg_free(body);
    chan_fail(chan, UV_E2BIG, text); /* the spawn ends with UV_E2BIG */
    return;
  }
  chan_header_init(chan, &h, UVA__WIRE_OPEN);
  grant_window(chan, &h);
  h.nattach = (uint16_t)n;
  frames[0].data = uva_msg_data(body);
  frames[0].len = uva_msg_size(body);
  frames[0].free_cb = NULL;
  frames[0].owner = NULL;
  for (i = 0; i < n; i++) {
    frames[1 + i].data = bufs[i].data;
    frames[1 + i].len = bufs[i].len;
    frames[1 + i].free_cb = bufs[i].free_cb != NULL ? bufs[i].free_cb : free;
    frames[1 + i].owner = NULL;
  }
  err = sock_send(chan->peer, &h, frames, 1 + n);
  uva_msg_free(body);
  uva_msg_free(chan->init);
  chan->init = NULL;
  if (err != 0)
    chan_fail(chan, err, "the transport could not send the open to the peer");
  else
    chan->open_sent = 1;
}

static void attach_to_peer(chan_t *chan, peer_t *peer) {
  uva__list_remove(&chan->link);
  chan->peer = peer;
  uva__list_insert_tail(&peer->chans, &chan->link);
}

void chan_start_open(chan_t *chan, int status) {
  rt_t *rt = chan->rt;
  peer_t *peer;
  int err;

  chan->opener = 1;
  chan->id = ++rt->next_channel;
  if (chan->kind == CHAN_RACTOR) {
    err = uva_port_start(&chan->reply, rt->loop, on_control_message, on_control_close);
    chan->reply.data = chan; /* the exit goes on it, started or not */
    if (err != 0) {
      chan_fail(chan, err, "the transport could not start the spawn's control port");
      chan->reply.data = NULL; /* closed at once, never started: no callback will say so */
      chan_maybe_free(chan);
      return;
    }
  }
  if (status != 0) {
    chan_fail(chan, status, status == UV_ECANCELED ? "the node is closing" : uva_strerror(status));
    return;
  }
  peer = rt_peer_by_name(rt, chan->name);
  if (peer == NULL) {
    uva__list_insert_tail(&rt->waiting, &chan->link);
    return;
  }
  attach_to_peer(chan, peer);
  send_open(chan);
}

void chan_peer_up(peer_t *peer) {
  rt_t *rt = peer->rt;
  uva__link_t *link;
  uva__link_t *next;
  chan_t *chan;

  for (link = rt->waiting.next; link != &rt->waiting; link = next) {
    next = link->next;
    chan = uva__container_of(link, chan_t, link);
    if (strcmp(chan->name, peer->name) == 0) {
      attach_to_peer(chan, peer);
      send_open(chan);
    }
  }
}

static void on_accept(chan_t *chan, const uva__wire_header_t *h) {
  rt_t *rt = chan->rt;
  int err;

  if (chan->open || !chan->opener) {
    rt_bad_frame(rt, "ACCEPT of an open channel");
    return;
  }
  if (h->status != 0) {
    chan->open = 0;
    chan->close_sent = 1; /* a refusal keeps nothing there: no CLOSE is owed */
    chan_fail(chan, h->status < 0 ? h->status : UV_ECONNREFUSED, "the peer refused the channel");
    return;
  }
  take_window(chan, h);
  err = uva_port_start(&chan->port, rt->loop, on_port_message, on_port_close);
  if (err != 0) {
    chan_fail(chan, err, "the transport could not start the channel's port");
    return;
  }
  chan->open = 1;
  bound_local(chan);
  if (chan->kind == CHAN_PORT) {
    answer(chan, "open", 0, NULL);
    uva_port_close(&chan->reply);
  } else {
    /* Unsaid, the program would never start the actor's data port: its messages would be lost unseen. */
    err = answer(chan, "online", 0, NULL);
    if (err != 0) {
      chan_fail(chan, err, "out of memory telling the program that its remote actor is online");
      return;
    }
    if (chan->terminate_pending)
      send_simple(chan, UVA__WIRE_TERMINATE, 0, 0);
  }
}

static int str_of(const msgpack_object *o, size_t max, char **out) {
  if (o->type == MSGPACK_OBJECT_NIL) {
    *out = NULL;
    return 0;
  }
  if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 || o->via.str.size > max ||
      memchr(o->via.str.ptr, 0, o->via.str.size) != NULL)
    return UV_EPROTO;
  *out = uva__strndup(o->via.str.ptr, o->via.str.size);
  return *out == NULL ? UV_ENOMEM : 0;
}

/* Copies the buffer frames of a message out of ZeroMQ's frames (they die with the ZeroMQ message). */
static int copy_buffers(zmq_msg_t *frames, size_t n, uva_msg_buffer_t *bufs) {
  size_t i;

  for (i = 0; i < n; i++) {
    size_t len = zmq_msg_size(&frames[i]);
    bufs[i].data = uva__malloc(len > 0 ? len : 1);
    bufs[i].len = len;
    bufs[i].free_cb = free;
    if (bufs[i].data == NULL) {
      while (i-- > 0)
        free(bufs[i].data);
      return UV_ENOMEM;
    }
    memcpy(bufs[i].data, zmq_msg_data(&frames[i]), len);
  }
  return 0;
}

/* Makes a message of a body and its buffer frames, with the limits of uva_msg_from_bytes() (the body's
 * size capped at max_message). */
static int message_of(rt_t *rt, const void *body, size_t len, zmq_msg_t *frames, size_t n, uva_msg_t **msgp) {
  uva_msg_limits_t limits = {.max_size = rt->cfg->max_message};
  uva_msg_buffer_t bufs[UVA__WIRE_MAX_ATTACH];
  size_t i;
  int err;

  err = copy_buffers(frames, n, bufs);
  if (err != 0)
    return err;
  /* Checked once: with max_message no looser than the defaults, the post to the local end takes it as
   * checked (serialize/message.c). */
  err = uva_msg_from_parts(msgp, body, len, &limits, n > 0 ? bufs : NULL, n);
  if (err != 0)
    for (i = 0; i < n; i++)
      free(bufs[i].data);
  return err;
}

static void refuse(peer_t *peer, uint64_t channel, int status) {
  uva__wire_header_t r = {0};

  r.type = UVA__WIRE_ACCEPT;
  r.session = peer->session;
  r.channel = channel;
  r.status = status;
  sock_send(peer, &r, NULL, 0);
}

static const uva_remote_main_t *find_main(rt_t *rt, const char *name) {
  size_t i;

  for (i = 0; i < rt->cfg->nmains; i++)
    if (strcmp(rt->cfg->mains[i].name, name) == 0)
      return &rt->cfg->mains[i];
  return NULL;
}

/* The name's holder answered: the channel opens with the port it accepted, or is refused. */
static void on_name_opened(uva_name_req_t *req, int status) {
  chan_t *chan = uva__container_of(req, chan_t, lookup);
  uva__wire_header_t h;
  int err = status;

  chan->lookup_pending = 0;
  if (err == 0 && (chan->failed || chan->peer == NULL)) {
    uva_port_close(&chan->port); /* the peer went meanwhile: the holder's side sees the close */
    err = UV_ECANCELED;
  } else if (err == 0) {
    err = uva_port_start(&chan->port, chan->rt->loop, on_port_message, on_port_close);
    if (err != 0)
      uva_port_close(&chan->port);
  }
  if (err != 0) {
    if (chan->peer != NULL && !chan->failed)
      refuse(chan->peer, chan->id, err);
    chan->local_closed = 1;
    chan->failed = 1;
    chan_maybe_free(chan);
    return;
  }
  chan->open = 1;
  bound_local(chan);
  chan_header_init(chan, &h, UVA__WIRE_ACCEPT);
  grant_window(chan, &h);
  sock_send(chan->peer, &h, NULL, 0);
  rt_pump(chan->rt);
}

/* OPEN of a name: asks this process's name registry (uvactor/supervise.h) for a channel to its holder. */
static void open_name(chan_t *chan, peer_t *peer) {
  int err;

  chan->kind = CHAN_PORT;
  chan->port.data = chan;
  attach_to_peer(chan, peer);
  err = uva_name_open(&chan->lookup, chan->rt->loop, chan->target, on_name_opened, &chan->port);
  if (err != 0) {
    refuse(peer, chan->id, err);
    chan->local_closed = 1;
    chan->failed = 1;
    chan_maybe_free(chan);
    return;
  }
  chan->lookup_pending = 1;
}

static void on_open(peer_t *peer, const uva__wire_header_t *h, zmq_msg_t *frames, size_t n) {
  uva_msg_limits_t limits = {.max_size = peer->rt->cfg->max_message, .max_depth = 2, .max_container = 4};
  const uva_remote_main_t *main_fn;
  uva_actor_options_t options = {0};
  rt_t *rt = peer->rt;
  msgpack_object obj;
  uva_msg_t *body;
  chan_t *chan;
  int err;

  rt->turn_opens++; /* the drain takes a few a turn (sockets.c) */
  if (!(h->flags & UVA__WIRE_FLAG_OPENER) || h->credit_messages == 0) {
    rt_bad_frame(rt, "malformed OPEN");
    return;
  }
  if (rt->closing) { /* its channels are winding down: a new one would be cut at once */
    refuse(peer, h->channel, UV_ECONNRESET);
    return;
  }
  err = uva_msg_from_bytes(&body, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), &limits);
  if (err == UV_ENOMEM) {
    refuse(peer, h->channel, err); /* not malformed: dropped, the opener would wait for its answer */
    return;
  }
  if (err != 0) {
    rt_bad_frame(rt, "malformed OPEN body");
    return;
  }
  uva_msg_object(body, &obj);
  if (obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 4 ||
      obj.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      (obj.via.array.ptr[3].type != MSGPACK_OBJECT_NIL && obj.via.array.ptr[3].type != MSGPACK_OBJECT_BIN)) {
    uva_msg_free(body);
    rt_bad_frame(rt, "malformed OPEN body");
    return;
  }
  chan = chan_new(rt, CHAN_ACTOR);
  if (chan == NULL) {
    uva_msg_free(body);
    refuse(peer, h->channel, UV_ENOMEM);
    return;
  }
  chan->id = h->channel;
  take_window(chan, h);
  err = str_of(&obj.via.array.ptr[1], UVA_NAME_MAX, &chan->target);
  if (err == 0 && chan->target == NULL)
    err = UV_EPROTO;
  if (err == 0)
    err = str_of(&obj.via.array.ptr[2], UVA_NODE_NAME_MAX, &chan->actor_name);
  if (err == 0 && obj.via.array.ptr[3].type == MSGPACK_OBJECT_BIN)
    err = message_of(rt, obj.via.array.ptr[3].via.bin.ptr, obj.via.array.ptr[3].via.bin.size, frames + 2,
                     n - 2, &chan->init);
  else if (err == 0 && n > 2)
    err = UV_EPROTO;
  if (err == 0 && obj.via.array.ptr[0].via.u64 == UVA__WIRE_OPEN_NAME) {
    uva_msg_free(body);
    open_name(chan, peer);
    return;
  }
  if (err == 0 && obj.via.array.ptr[0].via.u64 != UVA__WIRE_OPEN_SPAWN)
    err = UV_EPROTO;
  main_fn = err == 0 ? find_main(rt, chan->target) : NULL;
  if (err == 0 && main_fn == NULL)
    err = UV_ECONNREFUSED;
  uva_msg_free(body);
  if (err == 0) {
    options.name = chan->actor_name;
    options.init = chan->init;
    options.online_cb = on_actor_online;
    options.message_cb = on_actor_message;
    options.error_cb = on_actor_error;
    options.exit_cb = on_actor_exit;
    err = uva_actor_spawn(&chan->actor, rt->loop, main_fn->main_cb, &options);
    if (err == 0)
      chan->init = NULL; /* consumed */
  }
  if (err != 0) {
    if (err == UV_EPROTO)
      rt_bad_frame(rt, "malformed OPEN body");
    else
      refuse(peer, h->channel, err);
    chan->local_closed = 1;
    chan->failed = 1;
    chan_maybe_free(chan);
    return;
  }
  attach_to_peer(chan, peer);
}

/* ---- frames from the peer -------------------------------------------------------------------------- */

static chan_t *find_chan(peer_t *peer, const uva__wire_header_t *h) {
  int theirs = (h->flags & UVA__WIRE_FLAG_OPENER) != 0; /* the sender opened it: here it is not ours */
  uva__link_t *link;
  chan_t *chan;

  uva__list_foreach(link, &peer->chans) {
    chan = uva__container_of(link, chan_t, link);
    if (chan->id == h->channel && chan->opener == !theirs)
      return chan;
  }
  return NULL;
}

/* Whether the peer kept to the credit this side gave it: the sender's rule (has_credit()), with this side's
 * window. A peer that does not cannot make this side's memory grow. */
static int within_credit(const chan_t *chan, size_t size) {
  uint64_t half = chan->rt->cfg->window_bytes / 2;

  return chan->rx_credit_messages >= 1 && chan->rx_credit_bytes >= (int64_t)(size < half ? size : half);
}

/* A DATA from the peer (or a BATCH's entry): its body of len bytes, its nbufs buffer frames, and bytes, what
 * the sender's credit counted (body and buffers). */
static void on_message(chan_t *chan, const uva__wire_header_t *h, const void *body, size_t len, size_t bytes,
                       zmq_msg_t *bufs, size_t nbufs) {
  mq_item_t item = {0};
  char text[128];
  int err;

  if (!within_credit(chan, len)) {
    chan_fail(chan, UV_EPROTO, "the peer sent beyond the credit it was given");
    return;
  }
  chan->rx_credit_messages--;
  chan->rx_credit_bytes -= (int64_t)bytes;
  if (h->seq <= chan->rx_seq)
    return; /* a duplicate: delivered once already */
  if (h->seq != chan->rx_seq + 1) {
    snprintf(text, sizeof(text), "%llu message(s) lost in transit (sequence gap)",
             (unsigned long long)(h->seq - chan->rx_seq - 1));
    chan_fail(chan, UV_EPROTO, text);
    return;
  }
  chan->rx_seq = h->seq;
  if (chan->failed || chan->close_rcvd)
    return;
  err = message_of(chan->rt, body, len, bufs, nbufs, &item.msg);
  if (err != 0) {
    snprintf(text, sizeof(text), "a malformed message from the peer (%s)", uva_err_name(err));
    chan_fail(chan, err == UV_ENOMEM ? err : UV_EPROTO,
              err == UV_ENOMEM ? "out of memory receiving a message" : text);
    return;
  }
  item.bytes = bytes;
  item.call_kind = h->call_kind;
  item.call_id = h->call_id;
  item.status = h->status;
  deliver(chan, &item);
}

static void on_data(chan_t *chan, const uva__wire_header_t *h, zmq_msg_t *frames, size_t n) {
  size_t bytes = 0;
  size_t i;

  for (i = 1; i < n; i++)
    bytes += zmq_msg_size(&frames[i]);
  on_message(chan, h, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), bytes, frames + 2, n - 2);
}

/* Each entry is the DATA numbered seq, seq + 1, ...: checked and delivered as that DATA would be. */
static void on_batch(chan_t *chan, const uva__wire_header_t *h, zmq_msg_t *body) {
  uva__wire_header_t data = *h;
  uva__wire_entry_t e;
  size_t off = 0;
  int err = UV_EOF;

  data.type = UVA__WIRE_DATA;
  while (!chan->failed &&
         (err = uva__wire_entry_next(zmq_msg_data(body), zmq_msg_size(body), &off, &e)) == 0) {
    data.call_kind = e.call_kind;
    data.status = e.status;
    data.call_id = e.call_id;
    on_message(chan, &data, e.body, e.len, e.len, NULL, 0);
    data.seq++;
  }
  if (!chan->failed && (err != UV_EOF || off == 0))
    chan_fail(chan, UV_EPROTO, "a malformed batch from the peer");
}

static void on_close(chan_t *chan, const uva__wire_header_t *h) {
  char text[128];

  chan->close_rcvd = 1;
  if (h->seq != chan->rx_seq && h->seq > chan->rx_seq) {
    snprintf(text, sizeof(text), "%llu message(s) lost in transit before the close",
             (unsigned long long)(h->seq - chan->rx_seq));
    chan_fail(chan, UV_EPROTO, text);
    return;
  }
  if (h->status != 0) {
    snprintf(text, sizeof(text), "the peer failed the channel (%s)", uva_err_name(h->status));
    chan->close_sent = 1; /* it knows */
    chan_fail(chan, h->status, text);
    return;
  }
  /* The outbox will not be sent (the peer reads no more): flush_outbox() drops it once the local end has
   * closed, and answers with CLOSE. */
  if (chan->backlog.len == 0)
    close_local(chan);
  chan_maybe_free(chan);
}

static void on_exit_frame(chan_t *chan, const uva__wire_header_t *h, zmq_msg_t *body) {
  uva_msg_limits_t limits = {.max_size = UVA_FAIL_TEXT_MAX + 16, .max_depth = 1, .max_container = 1};
  msgpack_object obj;
  uva_msg_t *msg;
  char *text = NULL;

  if (chan->kind != CHAN_RACTOR) {
    rt_bad_frame(chan->rt, "EXIT on a channel that is not a remote actor's");
    return;
  }
  if (uva_msg_from_bytes(&msg, zmq_msg_data(body), zmq_msg_size(body), &limits) == 0) {
    if (uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 1 &&
        obj.via.array.ptr[0].type == MSGPACK_OBJECT_STR)
      text = uva__strndup(obj.via.array.ptr[0].via.str.ptr, obj.via.array.ptr[0].via.str.size);
    uva_msg_free(msg);
  }
  if (h->seq != chan->rx_seq) {
    free(text);
    chan_fail(chan, UV_EPROTO, "messages lost in transit before the actor's exit");
    return;
  }
  /* Before ACCEPT, the actor ended without ever being online: its spawn failed there. */
  chan->close_rcvd = 1;
  answer(chan, "exit", h->status, text);
  free(text);
  chan->close_sent = 1;
  uva_port_close(&chan->reply);
  if (chan->backlog.len == 0)
    close_local(chan);
  chan_maybe_free(chan);
}

void chan_on_frame(peer_t *peer, const uva__wire_header_t *h, zmq_msg_t *frames, size_t n) {
  chan_t *chan;

  if (h->type == UVA__WIRE_OPEN) {
    if (find_chan(peer, h) != NULL)
      rt_bad_frame(peer->rt, "OPEN of a channel that is open");
    else
      on_open(peer, h, frames, n);
    return;
  }
  chan = find_chan(peer, h);
  if (chan == NULL) {
    rt_bad_frame(peer->rt, "a frame for no channel"); /* or for one that ended: late */
    return;
  }
  /* Whatever the frame does, the channel is freed (if it is done) only once it has been handled. */
  chan->handling++;
  if (chan->open && take_credit(chan, h) != 0)
    chan_fail(chan, UV_EPROTO, "the peer returned more credit than its window");
  else if (h->type == UVA__WIRE_ACCEPT)
    on_accept(chan, h);
  else if (h->type == UVA__WIRE_DATA && chan->open)
    on_data(chan, h, frames, n);
  else if (h->type == UVA__WIRE_BATCH && chan->open)
    on_batch(chan, h, &frames[1]);
  else if (h->type == UVA__WIRE_DATA || h->type == UVA__WIRE_BATCH)
    rt_bad_frame(peer->rt, "DATA before ACCEPT");
  else if (h->type == UVA__WIRE_CLOSE)
    on_close(chan, h);
  else if (h->type == UVA__WIRE_EXIT)
    on_exit_frame(chan, h, &frames[1]);
  else if (h->type == UVA__WIRE_TERMINATE && chan->kind == CHAN_ACTOR && !chan->local_closed)
    uva_actor_terminate(&chan->actor);
  /* Credit came (a CREDIT, or on any frame): what waited for it goes. */
  if (!chan->failed && chan->open && !chan->close_rcvd)
    flush_outbox(chan);
  chan->handling--;
  chan_maybe_free(chan);
}

/* ---- the peer's and the node's end ----------------------------------------------------------------- */

/* The channel's peer is gone (or no longer spoken to): it fails without telling the peer. */
static void lose(chan_t *chan, peer_t *peer, int status, const char *text) {
  uva__list_remove(&chan->link);
  chan->peer = NULL;
  /* An open still waiting for its answer was not refused: the session ended under it. */
  fail(chan, chan->open || status != UV_ETIMEDOUT ? status : UV_ECONNRESET, text, peer->name);
}

void chan_peer_lost(peer_t *peer, int status, const char *text) {
  while (!uva__list_empty(&peer->chans))
    lose(uva__container_of(peer->chans.next, chan_t, link), peer, status, text);
}

void chan_tick(rt_t *rt, uint64_t now) {
  uva__link_t *plink;
  uva__link_t *link;
  uva__link_t *next;
  chan_t *chan;

  for (link = rt->waiting.next; link != &rt->waiting; link = next) {
    next = link->next;
    chan = uva__container_of(link, chan_t, link);
    if (now >= chan->deadline)
      chan_fail(chan, UV_ETIMEDOUT, "no session with the peer in time");
  }
  uva__list_foreach(plink, &rt->peers) {
    peer_t *peer = uva__container_of(plink, peer_t, link);
    for (link = peer->chans.next; link != &peer->chans; link = next) {
      next = link->next;
      chan = uva__container_of(link, chan_t, link);
      if (chan->opener && !chan->open && !chan->failed && now >= chan->deadline)
        chan_fail(chan, UV_ETIMEDOUT, "the peer did not answer the open in time");
    }
  }
}

void chan_close_all(rt_t *rt, int orderly) {
  uva__link_t *plink;
  uva__link_t *link;
  uva__link_t *next;
  peer_t *peer;
  chan_t *chan;

  /* Counted as a channel during the walk: the last channel freed in it (one whose end was only waiting for
   * its callbacks) must not finish the transport, which frees the peers walked; the caller finishes it. */
  rt->nchans++;
  while (!uva__list_empty(&rt->waiting))
    chan_fail(uva__container_of(rt->waiting.next, chan_t, link), UV_ECANCELED, "the node closed");
  uva__list_foreach(plink, &rt->peers) {
    peer = uva__container_of(plink, peer_t, link);
    for (link = peer->chans.next; link != &peer->chans; link = next) {
      next = link->next;
      chan = uva__container_of(link, chan_t, link);
      /* An open port's channel closes as its program's close would: what its local end holds is
       * delivered to the channel and sent as the credit allows, then CLOSE (on_port_close()). */
      if (orderly && chan->kind == CHAN_PORT && chan->open && !chan->failed)
        close_local(chan);
      else
        lose(chan, peer, UV_ECANCELED, "the node closed");
    }
  }
  rt->nchans--;
}
