/* The remote tests' other processes: tests/remote_node started, stopped, killed and paused. Plain C, so that
 * the Check suites (remote_helpers.h) and the stress programs share it. */
#ifndef UVA_TESTS_NODE_PROC_H
#define UVA_TESTS_NODE_PROC_H

#include <fcntl.h>
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

/* Closes its stdin (the node closes) and waits for it; its exit status. */
static int node_proc_stop(node_proc_t *np) {
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

/* Starts remote_node with args (NULL-terminated, after its name) and waits until it listens: 0, or -1 (it
 * did not start, or did not say where it listens), said on stderr. */
static int node_proc_start(node_proc_t *np, const char *const *args) {
  posix_spawn_file_actions_t fa;
  char path[4096];
  char *argv[32];
  char line[512];
  int to_child[2];
  int from_child[2];
  int n = 0;

  memset(np, 0, sizeof(*np));
  np->in = -1;
  node_path(path, sizeof(path));
  argv[n++] = path;
  while (*args != NULL && n < 31)
    argv[n++] = (char *)*args++;
  argv[n] = NULL;
  /* Close-on-exec: another node started later must not hold this one's stdin open. */
  if (pipe2(to_child, O_CLOEXEC) != 0)
    return -1;
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return -1;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  posix_spawn_file_actions_addclose(&fa, to_child[1]);
  posix_spawn_file_actions_addclose(&fa, from_child[0]);
  if (posix_spawn(&np->pid, path, &fa, NULL, argv, environ) != 0)
    np->pid = 0;
  posix_spawn_file_actions_destroy(&fa);
  close(to_child[0]);
  close(from_child[1]);
  np->in = to_child[1];
  np->out = fdopen(from_child[0], "r");
  if (np->pid == 0 || np->out == NULL || fgets(line, sizeof(line), np->out) == NULL ||
      strncmp(line, "listening ", 10) != 0) {
    fprintf(stderr, "# %s did not start or did not say where it listens\n", path);
    if (np->out == NULL)
      close(from_child[0]);
    node_proc_stop(np);
    return -1;
  }
  line[strcspn(line, "\n")] = 0;
  snprintf(np->endpoint, sizeof(np->endpoint), "%s", line + 10);
  return 0;
}

/* Sends it sig; SIGKILL also reaps it. 0, or -1. */
static int node_proc_kill(node_proc_t *np, int sig) {
  if (np->pid <= 0 || kill(np->pid, sig) != 0)
    return -1;
  if (sig == SIGKILL)
    node_proc_stop(np);
  return 0;
}

#endif /* UVA_TESTS_NODE_PROC_H */
