/* The remote Check suites' other processes (tests/remote_node started, stopped, killed, paused) and a node
 * of the test's own process with its events recorded. */
#ifndef UVA_TESTS_REMOTE_HELPERS_H
#define UVA_TESTS_REMOTE_HELPERS_H

#include <check.h>

#include "node_proc.h"
#include "remote_timing.h"

/* Another node: tests/remote_node, as a process (tests/node_proc.h); the Check suites' forms assert. */
static void node_start(node_proc_t *np, const char *const *args) {
  ck_assert_msg(node_proc_start(np, args) == 0, "remote_node did not start (see its stderr)");
}

static int node_stop(node_proc_t *np) {
  return node_proc_stop(np);
}

static void node_kill(node_proc_t *np, int sig) {
  ck_assert_int_eq(node_proc_kill(np, sig), 0);
}

/* The test's own node and what it heard. */
typedef struct {
  uva_node_t node;
  int ups;
  int downs;
  int refused;
  int refused_status;
  int chans_down;
  int last_chan_status;
  uint64_t last_chan;
  uint64_t chans[8]; /* the first CHANNEL_DOWNs' channels */
  int last_down_status;
  char last_text[256];
  int closed;
  int failed; /* UVA_NODE_FAILED events */
} test_node_t;

static void test_node_event(uva_node_t *node, const uva_node_event_t *ev) {
  test_node_t *tn = node->data;

  /* As remote_node says its events: a failing test's log shows both sides. */
  fprintf(stderr, "test node: event %d peer=%s channel=%llu status=%s: %s\n", (int)ev->type,
          ev->peer != NULL ? ev->peer : "-", (unsigned long long)ev->channel, uva_err_name(ev->status),
          ev->text != NULL ? ev->text : "");
  if (ev->text != NULL)
    snprintf(tn->last_text, sizeof(tn->last_text), "%s", ev->text);
  switch (ev->type) {
  case UVA_NODE_PEER_UP:
    tn->ups++;
    break;
  case UVA_NODE_PEER_DOWN:
    tn->downs++;
    tn->last_down_status = ev->status;
    break;
  case UVA_NODE_REFUSED:
    tn->refused++;
    tn->refused_status = ev->status;
    break;
  case UVA_NODE_CHANNEL_DOWN:
    tn->chans_down++;
    tn->last_chan_status = ev->status;
    tn->last_chan = ev->channel;
    if (tn->chans_down <= 8)
      tn->chans[tn->chans_down - 1] = ev->channel;
    break;
  case UVA_NODE_FAILED:
    tn->failed++;
    break;
  }
}

static void test_node_closed(uva_node_t *node) {
  ((test_node_t *)node->data)->closed = 1;
}

/* A plaintext node of this process, with short heartbeats and a heartbeat timeout no loaded machine reaches,
 * so that a slow peer is never taken for a lost one: a test of a peer lost by its heartbeats sets a short
 * timeout_ms itself (a peer killed or a connection reset is lost at once, by ZeroMQ's disconnect). */
static void test_node_init(test_node_t *tn, uv_loop_t *loop, uva_node_options_t *options) {
  uva_node_options_t plain = {0};

  if (options == NULL) {
    options = &plain;
    plain.plaintext = 1;
  }
  memset(tn, 0, sizeof(*tn));
  if (options->name == NULL)
    options->name = "test";
  options->event_cb = test_node_event;
  if (remote_on_loop())
    options->on_loop = 1;
  if (options->heartbeat_ms == 0)
    options->heartbeat_ms = 50;
  if (options->timeout_ms == 0)
    options->timeout_ms = 60000 * remote_slowdown();
  tn->node.data = tn;
  ck_assert_int_eq(uva_node_init(&tn->node, loop, options), 0);
}

#endif /* UVA_TESTS_REMOTE_HELPERS_H */
