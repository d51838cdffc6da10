/* ZeroMQ sockets on a libuv loop.
 *
 * ZMQ_FD is edge-triggered: it says "look at ZMQ_EVENTS", once, and a send or a receive may consume that
 * signal while input is waiting. So a socket is drained until ZMQ_EVENTS says no input, each time its fd
 * fires, and a socket that was sent on is looked at again before the loop blocks (the prepare handle), or
 * the loop would sleep with messages waiting: the classic hang. The same pump sends the channels' batches
 * (batch.c) first: what a turn added to them goes before the loop can block.
 *
 * Zero-copy frames: ZeroMQ calls a frame's free function on its I/O thread. A moved buffer's free function
 * is the application's, written for the threads that post; so the release goes on a list, and the
 * transport's loop runs it (the async handle). At shutdown zmq_ctx_term() returns only once ZeroMQ has
 * released every frame, and the list is emptied once more before the handle closes.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "remote/transport.h"

typedef struct release_s {
  struct release_s *next;
  rt_t *rt;
  void *data;
  uva_free_cb free_cb;
  atomic_int published; /* set once the rest is written, before ZeroMQ has it */
} release_t;

/* On ZeroMQ's I/O thread. The release was handed over through ZeroMQ's own queues; the acquire that pairs
 * with zero_copy_init()'s release says so in the language's terms, which TSan sees (it cannot see libzmq's).
 */
static void release_later(void *data, void *hint) {
  release_t *rel = hint;
  rt_t *rt;

  (void)data;
  (void)atomic_load_explicit(&rel->published, memory_order_acquire);
  rt = rel->rt;
  uv_mutex_lock(&rt->release_lock);
  rel->next = rt->release_head;
  rt->release_head = rel;
  uv_mutex_unlock(&rt->release_lock);
  uv_async_send(&rt->released);
}

static void run_releases(rt_t *rt) {
  release_t *rel;
  release_t *next;

  uv_mutex_lock(&rt->release_lock);
  rel = rt->release_head;
  rt->release_head = NULL;
  uv_mutex_unlock(&rt->release_lock);
  for (; rel != NULL; rel = next) {
    next = rel->next;
    rel->free_cb(rel->data);
    free(rel);
  }
}

static void on_released(uv_async_t *async) {
  if (!rt_inherited(async->data)) /* a child's list is a copy of what the parent releases */
    run_releases(async->data);
}

/* libzmq's own error numbers (from ZMQ_HAUSNUMERO up) are no system's: uv_translate_sys_error() would pass
 * them through as numbers no program could name (uva_strerror(): "unknown error"). */
int rt_errno(void) {
  int err = zmq_errno();

  switch (err) {
  case ENOCOMPATPROTO:
    return UV_EINVAL;
  case ETERM:
    return UV_ECANCELED;
  case EMTHREAD:
    return UV_EAGAIN;
  default:
    return err >= ZMQ_HAUSNUMERO ? UV_EPROTO : uv_translate_sys_error(err);
  }
}

static void on_again(uv_idle_t *idle);

static void on_poll(uv_poll_t *poll, int status, int events) {
  sock_t *sock = poll->data;

  (void)status;
  (void)events;
  if (rt_inherited(sock->rt)) {
    uv_poll_stop(poll); /* the descriptor stays readable until the parent reads it */
    return;
  }
  sock->dirty = 1; /* the pump drains it, in its walk */
  sock->rt->dirty = 1;
  rt_pump(sock->rt);
}

static void on_pump(uv_prepare_t *prepare) {
  rt_t *rt = prepare->data;

  if (rt_inherited(rt)) {
    uv_prepare_stop(prepare);
    return;
  }
  rt->turn_opens = 0; /* a new turn of the loop */
  rt_pump(rt);
}

/* Only there to keep the loop from blocking while a socket has input left or a batch waits: the prepare
 * handle pumps. */
static void on_again(uv_idle_t *idle) {
  if (rt_inherited(idle->data))
    uv_idle_stop(idle);
}

int rt_sockets_init(rt_t *rt) {
  int err;

  uva__list_init(&rt->socks);
  if (UVA__FAULT())
    return UV_ENOMEM;
  rt->ctx = zmq_ctx_new();
  if (rt->ctx == NULL)
    return rt_errno();
  /* The transport is one thread; one I/O thread keeps up with it. */
  zmq_ctx_set(rt->ctx, ZMQ_IO_THREADS, 1);
  err = uv_mutex_init(&rt->release_lock);
  if (err != 0)
    goto fail_ctx;
  err = UVA__FAULT() ? UV_EMFILE : uv_async_init(rt->loop, &rt->released, on_released);
  if (err != 0)
    goto fail_lock;
  rt->released.data = rt;
  uv_prepare_init(rt->loop, &rt->pump);
  rt->pump.data = rt;
  uv_prepare_start(&rt->pump, on_pump);
  uv_unref((uv_handle_t *)&rt->pump);
  uv_idle_init(rt->loop, &rt->again);
  rt->again.data = rt;
  rt->handles += 3;
  return 0;

fail_lock:
  uv_mutex_destroy(&rt->release_lock);
fail_ctx:
  zmq_ctx_term(rt->ctx);
  rt->ctx = NULL;
  return err;
}

void rt_handle_closed(uv_handle_t *handle) {
  rt_t *rt = handle->data;

  rt->handles--;
  rt_maybe_finish(rt);
}

static void on_poll_closed(uv_handle_t *handle) {
  sock_t *sock = handle->data;
  rt_t *rt = sock->rt;

  free(sock->endpoint);
  free(sock);
  rt->handles--;
  rt_maybe_finish(rt);
}

void rt_sockets_close(rt_t *rt) {
  uva__link_t *link;

  while (!uva__list_empty(&rt->socks)) {
    link = rt->socks.next;
    sock_close(uva__container_of(link, sock_t, link));
  }
  /* Every socket is closed, each lingering at most linger_ms: this returns once ZeroMQ has released every
   * frame, so the last releases are on the list now. */
  zmq_ctx_term(rt->ctx);
  rt->ctx = NULL;
  run_releases(rt);
  uv_mutex_destroy(&rt->release_lock);
  uv_close((uv_handle_t *)&rt->released, rt_handle_closed);
  uv_close((uv_handle_t *)&rt->pump, rt_handle_closed);
  uv_close((uv_handle_t *)&rt->again, rt_handle_closed);
}

void rt_set_common_options(rt_t *rt, void *zs) {
  int linger = (int)rt->cfg->linger_ms;
  int handshake = rt->cfg->timeout_ms > INT_MAX ? INT_MAX : (int)rt->cfg->timeout_ms;
  int64_t max = (int64_t)rt->cfg->max_message;
  int zero = 0;

  zmq_setsockopt(zs, ZMQ_LINGER, &linger, sizeof(linger));
  /* ZeroMQ's own handshake gets timeout_ms, as HELLO does, not libzmq's 30 s: a server that accepts and says
   * nothing is refused then (a failed handshake), and a client that says nothing is dropped. */
  zmq_setsockopt(zs, ZMQ_HANDSHAKE_IVL, &handshake, sizeof(handshake));
  zmq_setsockopt(zs, ZMQ_MAXMSGSIZE, &max, sizeof(max));
  /* High-water marks count messages, not bytes, and drop or block at the limit: credits bound what each
   * channel has in flight instead (channel.c), so the marks are off. */
  zmq_setsockopt(zs, ZMQ_SNDHWM, &zero, sizeof(zero));
  zmq_setsockopt(zs, ZMQ_RCVHWM, &zero, sizeof(zero));
}

/* libzmq aborts the process where it cannot make a descriptor it needs (the epoll instances of the threads
 * its first socket starts, a socket its resolver opens for a bind) instead of failing the call. So before
 * a command makes sockets, binds or connects, the transport makes sure a few more descriptors are left than
 * one command takes, and answers UV_EMFILE where they are not: a process at its limit gets an error, not an
 * abort (another thread that takes the last ones meanwhile still could cause one). */
#define FD_HEADROOM 16

int rt_fds_left(void) {
  int fds[FD_HEADROOM];
  int err = 0;
  int n;

  for (n = 0; n < FD_HEADROOM; n++) {
    fds[n] = UVA__FAULT() ? (errno = EMFILE, -1) : eventfd(0, EFD_CLOEXEC);
    if (fds[n] < 0) {
      err = uv_translate_sys_error(errno);
      break;
    }
  }
  while (n-- > 0)
    close(fds[n]);
  return err;
}

sock_t *sock_new(rt_t *rt, int kind) {
  static const int types[] = {0, ZMQ_ROUTER, ZMQ_DEALER, ZMQ_REP, ZMQ_PAIR};
  sock_t *sock;
  size_t size;
  int fd;

  sock = uva__calloc(1, sizeof(*sock));
  if (sock == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  sock->rt = rt;
  sock->kind = kind;
  if (UVA__FAULT()) {
    errno = EMFILE; /* as zmq_socket() says when the context has no socket left */
    goto fail;
  }
  sock->zs = zmq_socket(rt->ctx, types[kind]);
  if (sock->zs == NULL)
    goto fail;
  rt_set_common_options(rt, sock->zs);
  size = sizeof(fd);
  if (zmq_getsockopt(sock->zs, ZMQ_FD, &fd, &size) != 0)
    goto fail_socket;
  if (uv_poll_init(rt->loop, &sock->poll, fd) != 0) {
    errno = EMFILE;
    goto fail_socket;
  }
  sock->poll.data = sock;
  uv_poll_start(&sock->poll, UV_READABLE, on_poll);
  uva__list_insert_tail(&rt->socks, &sock->link);
  rt->handles++;
  /* Binding and connecting run commands that may take ZMQ_FD's first signal: look at it before sleeping. */
  sock->dirty = 1;
  rt->dirty = 1;
  return sock;

fail_socket:
  zmq_close(sock->zs);
fail:
  free(sock);
  return NULL;
}

void sock_close(sock_t *sock) {
  uva__list_remove(&sock->link);
  zmq_close(sock->zs);
  sock->zs = NULL;
  uv_close((uv_handle_t *)&sock->poll, on_poll_closed);
}

#define MAX_FRAMES (1 + 2 + UVA__WIRE_MAX_ATTACH) /* routing id, header, body, buffers */

/* A connection monitor's event (frames: event and value, then the endpoint). */
static void on_monitor_event(sock_t *sock, zmq_msg_t *frames, size_t n) {
  uint16_t event;

  if (n != 2 || zmq_msg_size(&frames[0]) < sizeof(event))
    return;
  memcpy(&event, zmq_msg_data(&frames[0]), sizeof(event));
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    rt_handshake_refused(sock, UV_EACCES, "the server refused this node's key");
  else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    rt_handshake_refused(
        sock, UV_EPROTO,
        sock->rt->cfg->secure
            ? "the handshake failed, or took over timeout_ms: a wrong server key, CURVE on one side "
              "only, or no node there"
            : "the handshake failed, or took over timeout_ms: the other side speaks no plaintext "
              "ZeroMQ (no node there, or a node that asks for CURVE)");
  else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    rt_connection_made(sock);
  else if (event == ZMQ_EVENT_DISCONNECTED)
    rt_connection_broke(sock);
}

/* Receives one multipart message and hands it on. A message of more frames than any may have is read
 * whole and dropped. 0, or EAGAIN when there is nothing to read (or another error of ZeroMQ's). */
static int recv_one(sock_t *sock) {
  zmq_msg_t frames[MAX_FRAMES];
  zmq_msg_t extra;
  size_t n = 0;
  size_t i;
  int more = 1;
  int over = 0;
  int err = 0;

  while (more) {
    zmq_msg_t *frame = n < MAX_FRAMES ? &frames[n] : &extra;
    zmq_msg_init(frame);
    if (zmq_msg_recv(frame, sock->zs, ZMQ_DONTWAIT) < 0) {
      err = zmq_errno();
      zmq_msg_close(frame);
      break;
    }
    more = zmq_msg_more(frame);
    if (frame == &extra) {
      over = 1;
      zmq_msg_close(frame);
    } else {
      n++;
    }
  }
  if (err == 0) {
    if (over)
      rt_bad_frame(sock->rt, "too many frames");
    else if (sock->kind == SOCK_ROUTER && n < 2)
      rt_bad_frame(sock->rt, "no header");
    else if (sock->kind == SOCK_ROUTER)
      rt_on_frames(sock, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]), frames + 1, n - 1);
    else if (sock->kind == SOCK_DEALER)
      rt_on_frames(sock, NULL, 0, frames, n);
    else if (sock->kind == SOCK_MONITOR)
      on_monitor_event(sock, frames, n);
  }
  for (i = 0; i < n; i++)
    zmq_msg_close(&frames[i]);
  return err;
}

/* One turn's share of a socket: a peer that keeps sending must not keep the loop from its timers (the
 * heartbeats) and its other sockets. A socket left with input stays dirty, and the idle handle keeps the
 * loop from blocking until it is drained. */
#define DRAIN_BUDGET 1024
/* An OPEN costs far more than a DATA (a name's lookup and its holder's accept, or an actor's spawn: a
 * thread and a loop): a turn takes this many at most, so that a peer that floods opens cannot keep the loop
 * from its timers (heartbeats) and its commands (a close, which then refuses the rest). */
#define OPEN_BUDGET 32

static void drain_frames(sock_t *sock) {
  unsigned int budget = DRAIN_BUDGET;
  int events;
  size_t size;

  sock->dirty = 0;
  sock->draining = 1;
  while (sock->zs != NULL) {
    if (budget-- == 0 || sock->rt->turn_opens >= OPEN_BUDGET) {
      sock->dirty = 1;
      sock->rt->dirty = 1;
      break;
    }
    if (sock->kind == SOCK_ZAP) {
      /* A REP socket must answer what it read before it reads again: look before reading. */
      size = sizeof(events);
      if (zmq_getsockopt(sock->zs, ZMQ_EVENTS, &events, &size) != 0 || !(events & ZMQ_POLLIN))
        break;
      rt_auth_on_request(sock);
    } else if (recv_one(sock) != 0) {
      break; /* EAGAIN: nothing left, and ZMQ_FD will signal the next input */
    }
  }
  sock->draining = 0;
}

void sock_drain(sock_t *sock) {
  sock_t *monitor = sock->kind == SOCK_DEALER ? sock->peer->monitor : NULL;

  /* ZeroMQ queues a connection's handshake event on the monitor before the connection's first frame can be
   * read, but the loop may come to the DEALER first (the pump drains it after every send). Until the
   * session is up the monitor is read first, so that a frame is weighed against its own connection: a
   * refusal is said once a connection (rt_handshake_refused()), and a success read after the refusal it
   * preceded would count as a new connection and say it again. */
  if (monitor != NULL && !monitor->draining && !sock->peer->up)
    drain_frames(monitor);
  drain_frames(sock);
  chan_flush_deliveries(sock->rt);
}

void rt_pump_all(rt_t *rt) {
  uva__link_t *link;

  uva__list_foreach(link, &rt->socks) {
    uva__container_of(link, sock_t, link)->dirty = 1;
  }
  rt->dirty = 1;
  rt_pump(rt);
}

/* Keeps the loop from blocking: not once the transport closes its handles (a pump may be what ended the
 * last channel and closed them). */
static void stay_awake(rt_t *rt) {
  if (!uv_is_closing((uv_handle_t *)&rt->again))
    uv_idle_start(&rt->again, on_again);
}

void rt_pump_soon(rt_t *rt) {
  rt->dirty = 1;
  stay_awake(rt);
}

void rt_pump(rt_t *rt) {
  uva__link_t *link;
  sock_t *sock;
  int passes = 0;

  /* A few passes: handling what came sends, and a send may take the signal of input waiting. A closing
   * node whose last channel ends in a drain closes its sockets after the walk, not under it. */
  rt->finish_held++;
  while (rt->dirty && passes++ < 4) {
    rt->dirty = 0;
    rt_flush_batches(rt);
    uva__list_foreach(link, &rt->socks) {
      sock = uva__container_of(link, sock_t, link);
      if (sock->dirty)
        sock_drain(sock);
    }
  }
  rt->finish_held--;
  if (rt->dirty)
    stay_awake(rt);
  else
    uv_idle_stop(&rt->again);
  rt_maybe_finish(rt);
}

static int send_copy(sock_t *sock, const void *data, size_t len, int more) {
  return zmq_send(sock->zs, data, len, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0 ? rt_errno() : 0;
}

static void *owner_of(const frame_t *frame) {
  return frame->owner != NULL ? frame->owner : (void *)frame->data;
}

/* Makes msg of a zero-copy frame, released on the transport's thread once ZeroMQ is done with it. On failure
 * the frame is released now. */
static int zero_copy_init(rt_t *rt, zmq_msg_t *msg, const frame_t *frame) {
  release_t *rel = uva__malloc(sizeof(*rel));

  if (rel == NULL) {
    frame->free_cb(owner_of(frame));
    return UV_ENOMEM;
  }
  rel->rt = rt;
  rel->data = owner_of(frame);
  rel->free_cb = frame->free_cb;
  atomic_store_explicit(&rel->published, 1, memory_order_release);
  if (UVA__FAULT() || zmq_msg_init_data(msg, (void *)frame->data, frame->len, release_later, rel) != 0) {
    free(rel);
    frame->free_cb(owner_of(frame));
    return UV_ENOMEM;
  }
  return 0;
}

int sock_send(peer_t *peer, const uva__wire_header_t *h, const frame_t *frames, size_t nframes) {
  unsigned char header[UVA__WIRE_HEADER_SIZE];
  zmq_msg_t zero_copy[1 + UVA__WIRE_MAX_ATTACH];
  sock_t *sock = peer->sock;
  size_t made;
  size_t i;
  int err = 0;

  /* The zero-copy frames are made before the first frame is queued, so that a failure sends nothing: once
   * one frame is queued the others must follow, or the message left open would take the next frame sent on
   * the socket as its own. */
  for (made = 0; made < nframes && err == 0; made++)
    if (frames[made].free_cb != NULL)
      err = zero_copy_init(sock->rt, &zero_copy[made], &frames[made]);
  if (err != 0) {
    for (i = 0; i < nframes; i++)
      if (frames[i].free_cb != NULL && i + 1 < made)
        zmq_msg_close(&zero_copy[i]); /* releases through release_later */
      else if (frames[i].free_cb != NULL && i >= made)
        frames[i].free_cb(owner_of(&frames[i]));
    return err;
  }
  uva__wire_encode(h, header);
  sock->dirty = 1;
  sock->rt->dirty = 1;
  if (sock->kind == SOCK_ROUTER && (err = send_copy(sock, peer->rid, peer->rid_len, 1)) == UV_EHOSTUNREACH)
    rt_peer_unreachable(peer);
  if (err == 0)
    err = send_copy(sock, header, sizeof(header), nframes > 0);
  for (i = 0; i < nframes; i++) {
    int more = i + 1 < nframes;
    if (frames[i].free_cb == NULL) {
      if (err == 0)
        err = send_copy(sock, frames[i].data, frames[i].len, more);
    } else if (err != 0 ||
               zmq_msg_send(&zero_copy[i], sock->zs, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0) {
      if (err == 0)
        err = rt_errno();
      zmq_msg_close(&zero_copy[i]); /* releases through release_later */
    }
  }
  if (err == 0)
    peer->last_tx = uv_now(sock->rt->loop);
  /* Unroutable, the frames are as lost as on a connection that broke in flight: the session ends for it
   * (with a reason every channel gets), not the channel that happened to send. */
  return err == UV_EHOSTUNREACH ? 0 : err;
}

int sock_send_raw(sock_t *sock, const unsigned char *rid, size_t rid_len, const uva__wire_header_t *h,
                  const void *body, size_t body_len) {
  unsigned char header[UVA__WIRE_HEADER_SIZE];
  int err = 0;

  uva__wire_encode(h, header);
  sock->dirty = 1;
  sock->rt->dirty = 1;
  if (rid != NULL)
    err = send_copy(sock, rid, rid_len, 1);
  if (err == 0)
    err = send_copy(sock, header, sizeof(header), body != NULL);
  if (err == 0 && body != NULL)
    err = send_copy(sock, body, body_len, 0);
  return err;
}
