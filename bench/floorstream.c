/* The streams' floors: throughput, fanin and fanin-ports as a careful plain-C program would write them, with
 * no uvactor in it (issue 17's "mutex queue, one port per producer").
 *
 * Each message is malloc'd and packed with msgpack-c, as throughput's producers pack theirs: [seq,
 * "0123456789abcdef"], seqs of producer p from p*per. A producer appends it to an intrusive list under the
 * list's mutex. The consumer takes a whole list under one acquisition, unpacks each message with msgpack-c,
 * checks each producer's order and the payload as stream.c's sink does, and frees it. When it finds nothing
 * it spins (-S, default UVA_SPIN_DEFAULT_US, 0: never; with the library's back-off: after a window that
 * missed it sleeps at once for the next 1, 3, 7 ... 63 waits) watching the lists, then says under each list's
 * lock that it is going to sleep and blocks in read() on an eventfd. A producer that finds that flag under
 * the lock clears it and writes the eventfd after the unlock: no lost wakeup, no write per message, and the
 * woken consumer does not find the lock still held by its waker. It answers the count through a second
 * eventfd, which stops the clock. Like stream.c, it then prints the CPU its consumer and producers used.
 *
 * The spin is there to compare like with like where uvactor's loops spin; in these streams they do not (a
 * loop that only receives sleeps at once, include/uvactor/port.h), so -S 0 is the sink's own behaviour.
 *
 * floor-throughput is one producer (main); floor-fanin has -a producers (main is the first) on one list;
 * floor-fanin-ports a list each, which the consumer takes in turn, skipping those with nothing. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"
#include "common/spin.h"

/* [seq, text]: a fixarray, a uint64 (9 bytes at most), a fixstr of 16. */
#define FLOOR_MSG_MAX 27

typedef struct floor_msg_s {
  struct floor_msg_s *next;
  size_t len;
  char data[FLOOR_MSG_MAX];
} floor_msg_t;

/* A mutex-guarded FIFO; its own cache lines, as each producer's would be. */
typedef struct {
  pthread_mutex_t lock;
  floor_msg_t *head; /* [lock] written; read without it (relaxed) only to spin or to skip an empty list */
  floor_msg_t **tail;
  int sleeping; /* [lock] the consumer may be blocked on the eventfd: the next append writes it */
} __attribute__((aligned(64))) floor_list_t;

typedef struct {
  floor_list_t *lists;
  unsigned int nlists; /* 1 (throughput, fanin) or one per producer (fanin-ports) */
  unsigned int producers;
  uint64_t per;                /* messages per producer */
  uint64_t spin_ns;            /* how long the consumer watches the lists before it sleeps */
  uva__spin_backoff_t backoff; /* consumer: the library's back-off rule (common/spin.h, header only) */
  int wake_fd;                 /* the consumer sleeps on it */
  int done_fd;                 /* the consumer answers the count on it */
  uint64_t *next;              /* consumer: next seq expected from each producer */
  uint64_t received;           /* consumer */
  double sink_cpu;             /* CPU seconds of the consumer's thread from its start to its last message */
} floor_stream_t;

typedef struct {
  floor_stream_t *fs;
  floor_list_t *list;
  unsigned int id;
  double cpu; /* CPU seconds of its thread while it produced */
} floor_producer_t;

static void fd_write(int fd, uint64_t value) {
  ssize_t r;

  do
    r = write(fd, &value, sizeof(value));
  while (r < 0 && errno == EINTR);
  if (r != (ssize_t)sizeof(value))
    bench_fail("floor stream: eventfd write failed");
}

static uint64_t fd_read(int fd) {
  uint64_t value;
  ssize_t r;

  do
    r = read(fd, &value, sizeof(value));
  while (r < 0 && errno == EINTR);
  if (r != (ssize_t)sizeof(value))
    bench_fail("floor stream: eventfd read failed");
  return value;
}

/* msgpack-c's packer writes straight into the message. */
static int msg_write(void *data, const char *buf, size_t len) {
  floor_msg_t *msg = data;

  if (len > FLOOR_MSG_MAX - msg->len)
    return -1;
  memcpy(msg->data + msg->len, buf, len);
  msg->len += len;
  return 0;
}

static floor_msg_t *msg_new(uint64_t seq) {
  floor_msg_t *msg = malloc(sizeof(*msg));
  msgpack_packer pk;

  if (msg == NULL)
    bench_fail("out of memory");
  msg->next = NULL;
  msg->len = 0;
  msgpack_packer_init(&pk, msg, msg_write);
  if (msgpack_pack_array(&pk, 2) != 0 || msgpack_pack_uint64(&pk, seq) != 0 ||
      msgpack_pack_str_with_body(&pk, BENCH_TEXT, sizeof(BENCH_TEXT) - 1) != 0)
    bench_fail("floor stream: message %llu does not fit", (unsigned long long)seq);
  return msg;
}

static void list_init(floor_list_t *list) {
  if (pthread_mutex_init(&list->lock, NULL) != 0)
    bench_fail("pthread_mutex_init failed");
  list->head = NULL;
  list->tail = &list->head;
  list->sleeping = 0;
}

static int list_has_work(floor_list_t *list) {
  return __atomic_load_n(&list->head, __ATOMIC_RELAXED) != NULL;
}

/* Appends msg; returns whether the consumer said it is going to sleep (the caller writes the eventfd, after
 * the unlock). */
static int list_append(floor_list_t *list, floor_msg_t *msg) {
  int wake;

  pthread_mutex_lock(&list->lock);
  if (list->head == NULL)
    __atomic_store_n(&list->head, msg, __ATOMIC_RELAXED);
  else
    *list->tail = msg;
  list->tail = &msg->next;
  wake = list->sleeping;
  list->sleeping = 0;
  pthread_mutex_unlock(&list->lock);
  return wake;
}

/* Takes the whole list, in one acquisition. */
static floor_msg_t *list_take(floor_list_t *list) {
  floor_msg_t *batch;

  pthread_mutex_lock(&list->lock);
  batch = list->head;
  __atomic_store_n(&list->head, NULL, __ATOMIC_RELAXED);
  list->tail = &list->head;
  pthread_mutex_unlock(&list->lock);
  return batch;
}

static void producer_run(floor_producer_t *pr) {
  uint64_t seq = pr->id * pr->fs->per;
  uint64_t end = seq + pr->fs->per;

  pr->cpu = bench_cpu_seconds();
  for (; seq < end; seq++)
    if (list_append(pr->list, msg_new(seq)))
      fd_write(pr->fs->wake_fd, 1);
  pr->cpu = bench_cpu_seconds() - pr->cpu;
}

static void producer_thread(void *arg) {
  bench_name_thread("producer");
  producer_run(arg);
}

/* Checks a message as stream.c's sink does (each producer's order, a payload of 16 bytes) and frees it. */
static void consume(floor_stream_t *fs, floor_msg_t *msg, msgpack_zone *zone) {
  msgpack_object view;
  const msgpack_object *payload;
  size_t off = 0;
  uint64_t seq, p;

  if (msgpack_unpack(msg->data, msg->len, &off, zone, &view) != MSGPACK_UNPACK_SUCCESS ||
      view.type != MSGPACK_OBJECT_ARRAY || view.via.array.size < 2 ||
      view.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    bench_fail("a message is not [seq, ...]");
  seq = view.via.array.ptr[0].via.u64;
  p = seq / fs->per;
  if (p >= fs->producers || fs->next[p] != seq)
    bench_fail("floor stream: message %llu out of order", (unsigned long long)seq);
  fs->next[p]++;
  payload = &view.via.array.ptr[1];
  if (payload->type != MSGPACK_OBJECT_STR || payload->via.str.size != sizeof(BENCH_TEXT) - 1)
    bench_fail("floor stream: bad payload");
  msgpack_zone_clear(zone);
  free(msg);
  fs->received++;
}

/* One round over the lists, each taken whole; returns whether any had work. */
static int consume_round(floor_stream_t *fs, msgpack_zone *zone) {
  floor_msg_t *msg, *next;
  unsigned int i;
  int found = 0;

  for (i = 0; i < fs->nlists; i++) {
    if (!list_has_work(&fs->lists[i]))
      continue;
    found = 1;
    for (msg = list_take(&fs->lists[i]); msg != NULL; msg = next) {
      next = msg->next;
      consume(fs, msg, zone);
    }
  }
  return found;
}

static int any_work(floor_stream_t *fs) {
  unsigned int i;

  for (i = 0; i < fs->nlists; i++)
    if (list_has_work(&fs->lists[i]))
      return 1;
  return 0;
}

/* Watches the lists for up to spin_ns; returns whether something came. Windows that keep missing back off
 * as the library's do (common/spin.h), so a spin that does not pay costs little. */
static int spin(floor_stream_t *fs) {
  uint64_t deadline;
  int hit;

  if (fs->spin_ns == 0 || uva__spin_backoff_skip(&fs->backoff))
    return 0;
  deadline = uv_hrtime() + fs->spin_ns;
  while (!(hit = any_work(fs)) && uv_hrtime() < deadline)
    uva__cpu_relax();
  uva__spin_backoff_done(&fs->backoff, hit);
  return hit;
}

/* Says it is going to sleep under each list's lock, and sleeps unless one of them has work. Then takes back
 * what it said on the lists no producer woke it through: their next append would write the eventfd for
 * nothing, and the next sleep would end at once. */
static void sleep_unless_work(floor_stream_t *fs) {
  floor_list_t *list;
  unsigned int i, said;

  for (said = 0; said < fs->nlists; said++) {
    list = &fs->lists[said];
    pthread_mutex_lock(&list->lock);
    if (list->head != NULL) {
      pthread_mutex_unlock(&list->lock);
      break;
    }
    list->sleeping = 1;
    pthread_mutex_unlock(&list->lock);
  }
  if (said == fs->nlists)
    fd_read(fs->wake_fd);
  for (i = 0; i < said && fs->nlists > 1; i++) {
    list = &fs->lists[i];
    pthread_mutex_lock(&list->lock);
    list->sleeping = 0;
    pthread_mutex_unlock(&list->lock);
  }
}

static void consumer_thread(void *arg) {
  floor_stream_t *fs = arg;
  uint64_t total = fs->per * fs->producers;
  msgpack_zone zone;

  bench_name_thread("sink");
  fs->sink_cpu = bench_cpu_seconds();
  if (!msgpack_zone_init(&zone, 1024))
    bench_fail("out of memory");
  while (fs->received < total)
    if (!consume_round(fs, &zone) && !spin(fs))
      sleep_unless_work(fs);
  fs->sink_cpu = bench_cpu_seconds() - fs->sink_cpu;
  msgpack_zone_destroy(&zone);
  fd_write(fs->done_fd, fs->received);
}

static int eventfd_new(void) {
  int fd = eventfd(0, EFD_CLOEXEC);

  if (fd < 0)
    bench_fail("eventfd: %s", uv_strerror(uv_translate_sys_error(errno)));
  return fd;
}

/* Runs a stream of per messages from each of producers producers, into one list or a list each; producers
 * beyond the first run on threads of their own, started on the clock as stream.c's are. */
static void floor_stream(const char *workload, const bench_params_t *params, unsigned int producers,
                         int own_lists) {
  floor_stream_t fs = {0};
  floor_producer_t *prs = calloc(producers, sizeof(*prs));
  uv_thread_t *threads = calloc(producers, sizeof(*threads));
  uv_thread_t consumer;
  uint64_t start, n, answer;
  double seconds, producers_cpu = 0;
  unsigned int p;

  if (producers == 0)
    bench_fail("floor-%s: needs at least 1 producer", workload);
  fs.producers = producers;
  fs.per = params->n / producers;
  fs.nlists = own_lists ? producers : 1;
  fs.lists = aligned_alloc(64, fs.nlists * sizeof(*fs.lists));
  fs.next = calloc(producers, sizeof(*fs.next));
  fs.spin_ns = (uint64_t)(params->spin_us >= 0 ? params->spin_us : UVA_SPIN_DEFAULT_US) * 1000;
  if (prs == NULL || threads == NULL || fs.lists == NULL || fs.next == NULL)
    bench_fail("out of memory");
  n = fs.per * producers;
  for (p = 0; p < fs.nlists; p++)
    list_init(&fs.lists[p]);
  for (p = 0; p < producers; p++) {
    fs.next[p] = p * fs.per;
    prs[p] = (floor_producer_t){&fs, &fs.lists[own_lists ? p : 0], p, 0};
  }
  fs.wake_fd = eventfd_new();
  fs.done_fd = eventfd_new();
  bench_check(uv_thread_create(&consumer, consumer_thread, &fs), "uv_thread_create");
  start = uv_hrtime();
  for (p = 1; p < producers; p++)
    bench_check(uv_thread_create(&threads[p], producer_thread, &prs[p]), "uv_thread_create");
  producer_run(&prs[0]);
  answer = fd_read(fs.done_fd);
  seconds = bench_seconds(start);
  for (p = 1; p < producers; p++)
    uv_thread_join(&threads[p]);
  uv_thread_join(&consumer);
  if (answer != n)
    bench_fail("floor-%s: the consumer answered %llu of %llu", workload, (unsigned long long)answer,
               (unsigned long long)n);
  for (p = 0; p < producers; p++) {
    if (fs.next[p] != (p + 1) * fs.per)
      bench_fail("floor-%s: producer %u's last message did not arrive", workload, p);
    producers_cpu += prs[p].cpu;
  }
  for (p = 0; p < fs.nlists; p++)
    pthread_mutex_destroy(&fs.lists[p].lock);
  close(fs.wake_fd);
  close(fs.done_fd);
  free(fs.lists);
  free(fs.next);
  free(prs);
  free(threads);
  bench_result("floor", workload, n, (double)n / seconds, "msg/s");
  bench_stream_cpu("floor", workload, n, fs.sink_cpu, producers_cpu, seconds);
}

void bench_floor_throughput(const bench_params_t *params) {
  floor_stream("throughput", params, 1, 0);
}

void bench_floor_fanin(const bench_params_t *params) {
  floor_stream("fanin", params, params->actors != 0 ? params->actors : 2, 0);
}

void bench_floor_fanin_ports(const bench_params_t *params) {
  floor_stream("fanin-ports", params, params->actors != 0 ? params->actors : 2, 1);
}
