/* A TCP proxy on loopback for the remote tests: it forwards every connection it accepts to a target port,
 * on a thread of its own, until the test cuts the connections it carries (each closed with a reset, as a
 * broken network would) and keeps listening, so that ZeroMQ reconnects through it. A half cut resets only
 * the target's side and leaves the accepted side open and silent, as a network that broke where only the
 * target sees it. */
#ifndef UVA_TESTS_TCP_PROXY_H
#define UVA_TESTS_TCP_PROXY_H

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define PROXY_PAIRS 8

typedef struct {
  int listener;
  int target_port;
  int port;                /* where it listens */
  int ctl[2];              /* the test writes a command byte: 'c' cut, 'h' half cut, 'q' quit */
  int ack[2];              /* the proxy answers each command with a byte: how many connections it cut */
  int fds[PROXY_PAIRS][2]; /* [the proxy's thread] accepted, and its connection to the target; -1: free */
  int silent[PROXY_PAIRS]; /* [the proxy's thread] accepted sides a half cut left open, unread; -1: none */
  uv_thread_t thread;
} tcp_proxy_t;

static void proxy_close_side(tcp_proxy_t *p, int i, int k, int reset) {
  struct linger lg = {1, 0};

  if (reset)
    setsockopt(p->fds[i][k], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(p->fds[i][k]);
  p->fds[i][k] = -1;
}

static void proxy_close_pair(tcp_proxy_t *p, int i, int reset) {
  proxy_close_side(p, i, 0, reset);
  proxy_close_side(p, i, 1, reset);
}

static void proxy_accept(tcp_proxy_t *p) {
  struct sockaddr_in sa = {0};
  int in = accept(p->listener, NULL, NULL);
  int out;
  int i;

  if (in < 0)
    return;
  for (i = 0; i < PROXY_PAIRS && p->fds[i][0] >= 0; i++)
    ;
  out = socket(AF_INET, SOCK_STREAM, 0);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)p->target_port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (i == PROXY_PAIRS || out < 0 || connect(out, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(in);
    if (out >= 0)
      close(out);
    return;
  }
  p->fds[i][0] = in;
  p->fds[i][1] = out;
}

/* Copies what one side of pair i has to the other; 0 once either side closed. */
static int proxy_copy(tcp_proxy_t *p, int i, int from) {
  char buf[65536];
  ssize_t n = read(p->fds[i][from], buf, sizeof(buf));
  ssize_t off = 0;

  if (n <= 0)
    return 0;
  while (off < n) {
    ssize_t w = write(p->fds[i][!from], buf + off, (size_t)(n - off));
    if (w <= 0)
      return 0;
    off += w;
  }
  return 1;
}

static void proxy_run(void *arg) {
  tcp_proxy_t *p = arg;
  struct pollfd pfd[2 + 2 * PROXY_PAIRS];
  char cmd;
  char cut;
  int n;
  int i;

  for (;;) {
    pfd[0].fd = p->ctl[0];
    pfd[1].fd = p->listener;
    for (i = 0; i < PROXY_PAIRS; i++) {
      pfd[2 + 2 * i].fd = p->fds[i][0];
      pfd[3 + 2 * i].fd = p->fds[i][1];
    }
    for (n = 0; n < 2 + 2 * PROXY_PAIRS; n++)
      pfd[n].events = POLLIN;
    if (poll(pfd, 2 + 2 * PROXY_PAIRS, -1) < 0)
      continue;
    if (pfd[0].revents & POLLIN) {
      if (read(p->ctl[0], &cmd, 1) != 1)
        cmd = 'q';
      cut = 0;
      for (i = 0; i < PROXY_PAIRS; i++)
        if (p->fds[i][0] >= 0) {
          if (cmd == 'h') {
            p->silent[i] = p->fds[i][0];
            p->fds[i][0] = -1;
            proxy_close_side(p, i, 1, 1);
          } else {
            proxy_close_pair(p, i, 1);
          }
          cut++;
        }
      if (write(p->ack[1], &cut, 1) != 1 || cmd == 'q')
        return;
      continue;
    }
    if (pfd[1].revents & POLLIN)
      proxy_accept(p);
    for (i = 0; i < PROXY_PAIRS; i++)
      if (p->fds[i][0] >= 0 &&
          (((pfd[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) && !proxy_copy(p, i, 0)) ||
           ((pfd[3 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) && !proxy_copy(p, i, 1))))
        proxy_close_pair(p, i, 0);
  }
}

/* Starts a proxy to 127.0.0.1:target_port; p->port is where it listens. */
static void proxy_start(tcp_proxy_t *p, int target_port) {
  struct sockaddr_in sa = {0};
  socklen_t len = sizeof(sa);
  int i;

  memset(p, 0, sizeof(*p));
  for (i = 0; i < PROXY_PAIRS; i++)
    p->fds[i][0] = p->fds[i][1] = p->silent[i] = -1;
  p->target_port = target_port;
  p->listener = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(p->listener, 0);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(p->listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ck_assert_int_eq(listen(p->listener, 8), 0);
  ck_assert_int_eq(getsockname(p->listener, (struct sockaddr *)&sa, &len), 0);
  p->port = ntohs(sa.sin_port);
  ck_assert_int_eq(pipe(p->ctl), 0);
  ck_assert_int_eq(pipe(p->ack), 0);
  ck_assert_int_eq(uv_thread_create(&p->thread, proxy_run, p), 0);
}

/* Sends cmd; how many connections the proxy cut. */
static int proxy_command(tcp_proxy_t *p, char cmd) {
  char cut;

  ck_assert_int_eq(write(p->ctl[1], &cmd, 1), 1);
  ck_assert_int_eq(read(p->ack[0], &cut, 1), 1);
  return cut;
}

/* Cuts every connection the proxy carries now, with a reset; it keeps listening. How many it cut. */
static int proxy_cut(tcp_proxy_t *p) {
  return proxy_command(p, 'c');
}

/* The same, but only on the target's side: the other stays open and silent until proxy_stop(). */
static int proxy_half_cut(tcp_proxy_t *p) {
  return proxy_command(p, 'h');
}

static void proxy_stop(tcp_proxy_t *p) {
  int i;

  (void)proxy_command(p, 'q');
  uv_thread_join(&p->thread);
  for (i = 0; i < PROXY_PAIRS; i++)
    if (p->silent[i] >= 0)
      close(p->silent[i]);
  close(p->listener);
  close(p->ctl[0]);
  close(p->ctl[1]);
  close(p->ack[0]);
  close(p->ack[1]);
}

#endif /* UVA_TESTS_TCP_PROXY_H */
