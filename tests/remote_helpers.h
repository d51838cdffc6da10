/* The remote tests' other processes: tests/remote_node started, stopped, killed, paused; and a node of
 * the test's own process with its events recorded. */
#ifndef UVA_TESTS_REMOTE_HELPERS_H
#define UVA_TESTS_REMOTE_HELPERS_H

#include <check.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uvactor.h"
#include "uvactor/remote.h"

extern char **environ;

/* Another node: tests/remote_node, as a process. */
typedef struct {
  pid_t pid;
  int in;    /* its stdin: closing it closes the node */
  FILE *out; /* its stdout: "listening ENDPOINT", "up NAME" */
  char endpoint[512];
} node_proc_t;

/* The built remote_node: tests run from the build directory (make check), or with UVA_TOP_BUILDDIR set. */
static void node_path(char *path, size_t size) {
  const char *top = getenv("UVA_TOP_BUILDDIR");

  snprintf(path, size, "%s/tests/remote_node", top != NULL ? top : ".");
}

/* Starts remote_node with args (NULL-terminated, after its name) and waits until it listens. */
static void node_start(node_proc_t *np, const char *const *args) {
  char path[4096];
  char *argv[32];
  char line[512];
  int to_child[2];
  int from_child[2];
  posix_spawn_file_actions_t fa;
  int n = 0;

  node_path(path, sizeof(path));
  argv[n++] = path;
  while (*args != NULL && n < 31)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  ck_assert_int_eq(pipe(to_child), 0);
  ck_assert_int_eq(pipe(from_child), 0);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  posix_spawn_file_actions_addclose(&fa, to_child[1]);
  posix_spawn_file_actions_addclose(&fa, from_child[0]);
  ck_assert_int_eq(posix_spawn(&np->pid, path, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(to_child[0]);
  close(from_child[1]);
  np->in = to_child[1];
  np->out = fdopen(from_child[0], "r");
  ck_assert_ptr_nonnull(np->out);
  ck_assert_ptr_nonnull(fgets(line, sizeof(line), np->out));
  ck_assert_int_eq(strncmp(line, "listening ", 10), 0);
  line[strcspn(line, "\n")] = 0;
  snprintf(np->endpoint, sizeof(np->endpoint), "%s", line + 10);
}

/* Closes its stdin (the node closes) and waits for it; its exit status. */
static int node_stop(node_proc_t *np) {
  int status = -1;

  if (np->in >= 0)
    close(np->in);
  np->in = -1;
  if (np->pid > 0)
    waitpid(np->pid, &status, 0);
  np->pid = 0;
  if (np->out != NULL)
    fclose(np->out);
  np->out = NULL;
  return status;
}

static void node_kill(node_proc_t *np, int sig) {
  ck_assert_int_eq(kill(np->pid, sig), 0);
  if (sig == SIGKILL)
    node_stop(np);
}

/* The test's own node and what it heard. */
typedef struct {
  uva_node_t node;
  int ups;
  int downs;
  int refused;
  int refused_status;
  int chans_down;
  int last_down_status;
  char last_text[256];
  int closed;
} test_node_t;

static void test_node_event(uva_node_t *node, const uva_node_event_t *ev) {
  test_node_t *tn = node->data;

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
    break;
  }
}

static void test_node_closed(uva_node_t *node) {
  ((test_node_t *)node->data)->closed = 1;
}

/* A plaintext node of this process, with short heartbeats so that a lost peer shows within a second. */
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
  if (options->heartbeat_ms == 0)
    options->heartbeat_ms = 50;
  if (options->timeout_ms == 0)
    options->timeout_ms = 600;
  tn->node.data = tn;
  ck_assert_int_eq(uva_node_init(&tn->node, loop, options), 0);
}

#endif /* UVA_TESTS_REMOTE_HELPERS_H */
