/* Scale: what an idle actor costs (idle-rss), and the process resources that bound how many actors one
 * process can hold.
 *
 * An actor is a thread (its stack is two mappings: the stack and its guard page) and a libuv loop, and a
 * libuv 1.44 loop holds descriptors of its own: its epoll instance, the signal pipe uv_loop_init() makes
 * (two ends) and the eventfd of its async handles, which uvactor's wakeup writes too: four, and uvactor adds
 * none. So RLIMIT_NOFILE, not memory or threads, is usually the first
 * limit met: main() raises the soft limit to the hard one, and a run that still runs out says which limit
 * it met and how far it got, rather than "too many open files" from deep inside an actor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

/* A descriptor kept from the start, closed to count the others when they have run out (opendir needs one). */
static int spare_fd = -1;

void bench_raise_nofile(void) {
  struct rlimit lim;

  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim); /* best effort: a run that needs more says so when it fails */
  }
  spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Descriptors of this process by kind, from /proc/self/fd (the directory's own descriptor not counted). */
typedef struct {
  long total;
  long eventpoll;
  long eventfd;
  long pipe;
} fd_count_t;

/* 0, or -1 if /proc/self/fd cannot be read (no descriptor left to read it with). */
static int count_fds(fd_count_t *c) {
  char path[300], target[128];
  struct dirent *d;
  ssize_t len;
  DIR *dir = opendir("/proc/self/fd");

  memset(c, 0, sizeof(*c));
  if (dir == NULL)
    return -1;
  while ((d = readdir(dir)) != NULL) {
    if (d->d_name[0] == '.' || atoi(d->d_name) == dirfd(dir))
      continue;
    c->total++;
    snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
    len = readlink(path, target, sizeof(target) - 1);
    if (len < 0)
      continue;
    target[len] = '\0';
    if (strcmp(target, "anon_inode:[eventpoll]") == 0)
      c->eventpoll++;
    else if (strcmp(target, "anon_inode:[eventfd]") == 0)
      c->eventfd++;
    else if (strncmp(target, "pipe:", 5) == 0)
      c->pipe++;
  }
  closedir(dir);
  return 0;
}

static void must_count_fds(fd_count_t *c) {
  if (count_fds(c) != 0)
    bench_fail("cannot read /proc/self/fd: %s", strerror(errno));
}

/* Lines of a file (/proc/self/maps: mappings). */
static long count_lines(const char *path) {
  long lines = 0;
  int ch;
  FILE *f = fopen(path, "r");

  if (f == NULL)
    return -1;
  while ((ch = getc(f)) != EOF)
    lines += ch == '\n';
  fclose(f);
  return lines;
}

/* A number from a /proc file: the first one, or the one after key (as in /proc/self/status). */
static long read_number(const char *path, const char *key) {
  char line[256];
  long value = -1;
  FILE *f = fopen(path, "r");

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (key == NULL || strncmp(line, key, strlen(key)) == 0) {
      value = atol(line + (key != NULL ? strlen(key) : 0));
      break;
    }
  }
  fclose(f);
  return value;
}

void bench_resources_report(const char *what) {
  struct rlimit nofile = {0, 0}, nproc = {0, 0};
  int spare = __atomic_exchange_n(&spare_fd, -1, __ATOMIC_ACQ_REL); /* actors may fail at once */
  fd_count_t fds;

  if (spare >= 0)
    close(spare);
  getrlimit(RLIMIT_NOFILE, &nofile);
  getrlimit(RLIMIT_NPROC, &nproc);
  if (count_fds(&fds) != 0) {
    /* Another thread took the spare: nothing is left even to read /proc with. */
    fprintf(stderr, "uvactor-bench: %s: every descriptor is in use (RLIMIT_NOFILE %llu, hard %llu)\n", what,
            (unsigned long long)nofile.rlim_cur, (unsigned long long)nofile.rlim_max);
    return;
  }
  fds.total += spare >= 0; /* it was open when the limit was met */
  fprintf(
      stderr,
      "uvactor-bench: %s: %ld descriptors open (RLIMIT_NOFILE %llu, hard %llu), %ld threads (RLIMIT_NPROC "
      "%llu, kernel.threads-max %ld, kernel.pid_max %ld), %ld mappings (vm.max_map_count %ld)\n",
      what, fds.total, (unsigned long long)nofile.rlim_cur, (unsigned long long)nofile.rlim_max,
      read_number("/proc/self/status", "Threads:"), (unsigned long long)nproc.rlim_cur,
      read_number("/proc/sys/kernel/threads-max", NULL), read_number("/proc/sys/kernel/pid_max", NULL),
      count_lines("/proc/self/maps"), read_number("/proc/sys/vm/max_map_count", NULL));
}

void bench_spawn_counted(uva_actor_t *actor, const char *name, uva_actor_main_cb main_cb, void *arg,
                         unsigned int index) {
  uva_actor_options_t options;
  char what[64];
  int err;

  memset(&options, 0, sizeof(options));
  options.name = name;
  options.arg = arg;
  err = uva_actor_spawn(actor, NULL, main_cb, &options);
  if (err != 0) {
    snprintf(what, sizeof(what), "spawning actor %u failed", index);
    bench_resources_report(what);
    bench_check(err, "uva_actor_spawn");
  }
}

uva_msg_t *bench_receive_ready(uva_actor_t *actor, unsigned int index) {
  uva_msg_t *msg;
  char what[96];
  int code = 0;
  int err;

  err = uva_port_receive_wait(uva_actor_port(actor), &msg, UVA_WAIT_FOREVER);
  if (err == 0)
    return msg;
  /* The actor ended first: its thread could not make its loop (UVA_EXIT_FAILED), most likely out of
   * descriptors. */
  if (err == UV_EPIPE)
    (void)uva_actor_join(actor, UVA_WAIT_FOREVER, &code);
  snprintf(what, sizeof(what), "actor %u ended before it was ready (exit code %d)", index, code);
  bench_resources_report(what);
  bench_check(err, "receive");
  return NULL;
}

void bench_check_in_actor(int err, const char *what) {
  if (err == UV_EMFILE || err == UV_ENFILE || err == UV_ENOMEM)
    bench_resources_report(what);
  bench_check(err, what);
}

/* Resident bytes of this process. */
static double rss_bytes(void) {
  long pages = 0;
  long resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");

  if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
    bench_fail("cannot read /proc/self/statm");
  fclose(f);
  return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static void idle_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

/* Waits on its port until the parent closes it, and says it is waiting. */
static int idle_main(uva_self_t *self) {
  bench_check_in_actor(uva_port_start(uva_self_port(self), uva_self_loop(self), idle_message, NULL), "start");
  bench_check(uva_port_post(uva_self_port(self), bench_seq_msg(0, "idle", 4)), "post idle");
  return 0;
}

/* idle-rss: RSS growth over spawning count actors that wait on their port, per actor; with it the
 * descriptors (idle-fds) and mappings (idle-maps) each adds, and on stderr the descriptors by kind. */
void bench_idle_rss(const bench_params_t *params) {
  unsigned int count = params->actors != 0 ? params->actors : 1000;
  uva_actor_t *actors = calloc(count, sizeof(*actors));
  fd_count_t fds_before, fds_after;
  long maps_before, maps_after;
  double before, after;
  uva_msg_t *msg;
  msgpack_object view;
  unsigned int i;

  if (actors == NULL)
    bench_fail("out of memory");
  must_count_fds(&fds_before);
  maps_before = count_lines("/proc/self/maps");
  before = rss_bytes();
  for (i = 0; i < count; i++) {
    bench_spawn_counted(&actors[i], NULL, idle_main, NULL, i);
    msg = bench_receive_ready(&actors[i], i);
    if (bench_msg_seq(msg, &view) != 0)
      bench_fail("idle-rss: actor %u did not say idle", i);
    uva_msg_free(msg);
  }
  after = rss_bytes();
  must_count_fds(&fds_after);
  maps_after = count_lines("/proc/self/maps");
  for (i = 0; i < count; i++) {
    bench_check(uva_port_close(uva_actor_port(&actors[i])), "close");
    bench_join(&actors[i]);
  }
  free(actors);
  fprintf(stderr,
          "uvactor-bench: idle-rss: %u actors added %ld descriptors: %ld epoll, %ld eventfd, %ld pipe ends, "
          "%ld other\n",
          count, fds_after.total - fds_before.total, fds_after.eventpoll - fds_before.eventpoll,
          fds_after.eventfd - fds_before.eventfd, fds_after.pipe - fds_before.pipe,
          (fds_after.total - fds_before.total) -
              ((fds_after.eventpoll - fds_before.eventpoll) + (fds_after.eventfd - fds_before.eventfd) +
               (fds_after.pipe - fds_before.pipe)));
  bench_result("uvactor", "idle-rss", count, (after - before) / count / 1024, "KiB/actor");
  bench_result("uvactor", "idle-fds", count, (double)(fds_after.total - fds_before.total) / count,
               "fd/actor");
  bench_result("uvactor", "idle-maps", count, (double)(maps_after - maps_before) / count, "maps/actor");
}
