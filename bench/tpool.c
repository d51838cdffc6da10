/* The task pool's workloads (BENCH.md, round two) and their references in the same tool.
 *
 *   tpool-empty      N tasks with no argument and no result, WINDOW in flight: tasks/s, and lines
 *                    tpool-empty-p50 and tpool-empty-p99 with the latency from submit to callback (us)
 *   queuework-empty  the same through libuv's uv_queue_work (its threadpool sized to the same threads)
 *   tpool-cpu        a fixed Mandelbrot kernel cut into N row bands, on a pool of -a workers (default: the
 *                    CPUs): the speed-up over the same kernel on one plain thread, timed in the same run
 *   thread-cpu       that plain thread alone: milliseconds for the whole kernel
 *   tpool-bytes      N tasks each moving a -s byte buffer in and a digest out; the task checks the buffer's
 *                    stamps: tasks/s. The buffers (BYTES_PER_SLOT for each of the WINDOW slots in flight,
 *                    made and filled before the clock) are used in turn by their slot, each stamped for its
 *                    task just before it is submitted: a buffer is never stamped while a task holds it
 *   queuework-bytes  the same buffers' stamps checked through uv_queue_work: tasks/s
 *
 * Every answer is checked (the digests, the kernel's checksum against the plain thread's): a wrong one
 * fails the run. */
#include <string.h>

#include "bench.h"

#define WINDOW 64
#define KERNEL_WIDTH 2048
#define KERNEL_HEIGHT 1536
#define KERNEL_ITER 256
#define BYTES_PER_SLOT 15 /* 960 buffers in all: at 1 MiB, every task's buffer is cold */

static unsigned int cpus(void) {
  return uv_available_parallelism();
}

/* ---- latency ------------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a;
  uint64_t y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void report_latency(const char *peer, const char *workload, uint64_t n, uint64_t *lat) {
  char name[64];

  qsort(lat, n, sizeof(*lat), cmp_u64);
  snprintf(name, sizeof(name), "%s-p50", workload);
  bench_result(peer, name, n, (double)lat[n / 2] / 1e3, "us");
  snprintf(name, sizeof(name), "%s-p99", workload);
  bench_result(peer, name, n, (double)lat[n * 99 / 100] / 1e3, "us");
}

/* ---- tpool-empty --------------------------------------------------------------------------------- */

typedef struct {
  uva_tpool_t pool;
  uva_task_t task[WINDOW];
  uint64_t submitted_at[WINDOW];
  uint64_t *lat;
  uint64_t n;
  uint64_t submitted;
  uint64_t done;
} empty_run_t;

static int fn_empty(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  (void)result;
  return 0;
}

static void empty_submit(empty_run_t *r, int slot);

static void on_empty(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  empty_run_t *r = task->data;
  int slot = (int)(task - r->task);

  (void)text;
  if (status != 0 || result != NULL)
    bench_fail("tpool-empty: a task failed: %s", uva_strerror(status));
  r->lat[r->done++] = uv_hrtime() - r->submitted_at[slot];
  if (r->submitted < r->n)
    empty_submit(r, slot);
  else if (r->done == r->n)
    bench_check(uva_tpool_close(&r->pool, 0, NULL), "uva_tpool_close");
}

static void empty_submit(empty_run_t *r, int slot) {
  r->task[slot].data = r;
  r->submitted_at[slot] = uv_hrtime();
  r->submitted++;
  bench_check(uva_tpool_submit(&r->pool, &r->task[slot], fn_empty, NULL, NULL, on_empty), "uva_tpool_submit");
}

void bench_tpool_empty(const bench_params_t *params) {
  uva_tpool_options_t options;
  empty_run_t r;
  uv_loop_t loop;
  uint64_t start;
  double seconds;
  int i;

  memset(&r, 0, sizeof(r));
  memset(&options, 0, sizeof(options));
  options.max_threads = params->actors;
  r.n = params->n;
  r.lat = malloc(r.n * sizeof(*r.lat));
  if (r.lat == NULL || r.n < WINDOW)
    bench_fail("tpool-empty: n must be at least %d", WINDOW);
  bench_check(uv_loop_init(&loop), "uv_loop_init");
  bench_check(uva_tpool_init(&r.pool, &loop, &options), "uva_tpool_init");
  start = uv_hrtime();
  for (i = 0; i < WINDOW; i++)
    empty_submit(&r, i);
  bench_check(uv_run(&loop, UV_RUN_DEFAULT), "uv_run");
  seconds = bench_seconds(start);
  if (r.done != r.n)
    bench_fail("tpool-empty: %llu of %llu tasks completed", (unsigned long long)r.done,
               (unsigned long long)r.n);
  bench_check(uv_loop_close(&loop), "uv_loop_close");
  bench_result("uvactor", "tpool-empty", r.n, (double)r.n / seconds, "tasks/s");
  report_latency("uvactor", "tpool-empty", r.n, r.lat);
  free(r.lat);
}

/* ---- queuework-empty ----------------------------------------------------------------------------- */

typedef struct {
  uv_loop_t loop;
  uv_work_t req[WINDOW];
  uint64_t submitted_at[WINDOW];
  uint64_t *lat;
  uint64_t n;
  uint64_t submitted;
  uint64_t done;
  void (*work)(uv_work_t *req);
  void (*check)(uv_work_t *req);
} qw_run_t;

static void qw_submit(qw_run_t *r, int slot);

static void qw_after(uv_work_t *req, int status) {
  qw_run_t *r = req->data;
  int slot = (int)(req - r->req);

  bench_check(status, "uv_queue_work");
  if (r->check != NULL)
    r->check(req);
  r->lat[r->done++] = uv_hrtime() - r->submitted_at[slot];
  if (r->submitted < r->n)
    qw_submit(r, slot);
}

static void qw_submit(qw_run_t *r, int slot) {
  r->req[slot].data = r;
  r->submitted_at[slot] = uv_hrtime();
  r->submitted++;
  bench_check(uv_queue_work(&r->loop, &r->req[slot], r->work, qw_after), "uv_queue_work");
}

static void qw_nothing(uv_work_t *req) {
  (void)req;
}

/* Runs n work requests, WINDOW at a time, on libuv's threadpool sized to threads; returns seconds. */
static double qw_run(qw_run_t *r, unsigned int threads) {
  uint64_t start;
  double seconds;
  int i;

  if (uva_pool_init(threads) != 0)
    bench_fail("queuework: the threadpool could not be sized to %u threads", threads);
  r->lat = malloc(r->n * sizeof(*r->lat));
  if (r->lat == NULL || r->n < WINDOW)
    bench_fail("queuework: n must be at least %d", WINDOW);
  bench_check(uv_loop_init(&r->loop), "uv_loop_init");
  /* The pool's threads are started (by uva_pool_init) before the clock, as the task pool's workers are. */
  start = uv_hrtime();
  for (i = 0; i < WINDOW; i++)
    qw_submit(r, i);
  bench_check(uv_run(&r->loop, UV_RUN_DEFAULT), "uv_run");
  seconds = bench_seconds(start);
  if (r->done != r->n)
    bench_fail("queuework: %llu of %llu requests completed", (unsigned long long)r->done,
               (unsigned long long)r->n);
  bench_check(uv_loop_close(&r->loop), "uv_loop_close");
  return seconds;
}

void bench_queuework_empty(const bench_params_t *params) {
  qw_run_t r;
  double seconds;

  memset(&r, 0, sizeof(r));
  r.n = params->n;
  r.work = qw_nothing;
  seconds = qw_run(&r, params->actors != 0 ? params->actors : cpus());
  bench_result("queuework", "tpool-empty", r.n, (double)r.n / seconds, "tasks/s");
  report_latency("queuework", "tpool-empty", r.n, r.lat);
  free(r.lat);
}

/* ---- the CPU kernel ------------------------------------------------------------------------------ */

/* Escape counts of rows [y0, y1) of a Mandelbrot image, summed. */
static uint64_t kernel_rows(int y0, int y1) {
  uint64_t sum = 0;
  int x, y, i;

  for (y = y0; y < y1; y++) {
    double ci = -1.2 + 2.4 * y / KERNEL_HEIGHT;
    for (x = 0; x < KERNEL_WIDTH; x++) {
      double cr = -2.2 + 3.2 * x / KERNEL_WIDTH;
      double zr = 0, zi = 0, t;
      for (i = 0; i < KERNEL_ITER && zr * zr + zi * zi <= 4.0; i++) {
        t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
      }
      sum += (uint64_t)i;
    }
  }
  return sum;
}

typedef struct {
  uint64_t sum;
  double seconds;
} plain_run_t;

static void plain_thread(void *arg) {
  plain_run_t *r = arg;
  uint64_t start = uv_hrtime();

  r->sum = kernel_rows(0, KERNEL_HEIGHT);
  r->seconds = bench_seconds(start);
}

/* The whole kernel on one plain thread. */
static plain_run_t run_plain(void) {
  uv_thread_t thread;
  plain_run_t r;

  bench_check(uv_thread_create(&thread, plain_thread, &r), "uv_thread_create");
  uv_thread_join(&thread);
  return r;
}

void bench_thread_cpu(const bench_params_t *params) {
  plain_run_t r = run_plain();

  (void)params;
  bench_result("thread", "tpool-cpu", 1, r.seconds * 1e3, "ms");
}

/* [y0, y1] -> [y0, sum] */
static int fn_band(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  msgpack_object obj;
  int64_t y0, y1;

  (void)ctx;
  if (uva_msg_object(arg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 2)
    return UV_EINVAL;
  y0 = obj.via.array.ptr[0].via.i64;
  y1 = obj.via.array.ptr[1].via.i64;
  if (uva_msg_new(result) != 0)
    return UV_ENOMEM;
  msgpack_pack_array(uva_msg_packer(*result), 2);
  msgpack_pack_int64(uva_msg_packer(*result), y0);
  msgpack_pack_uint64(uva_msg_packer(*result), kernel_rows((int)y0, (int)y1));
  return 0;
}

typedef struct {
  uva_tpool_t pool;
  uva_task_t *tasks;
  uint64_t sum;
  uint64_t done;
  uint64_t n;
} cpu_run_t;

static void on_band(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  cpu_run_t *r = task->data;
  msgpack_object obj;

  if (status != 0)
    bench_fail("tpool-cpu: a band failed: %s", text);
  bench_check(uva_msg_object(result, &obj), "uva_msg_object");
  r->sum += obj.via.array.ptr[1].via.u64;
  uva_msg_free(result);
  if (++r->done == r->n)
    bench_check(uva_tpool_close(&r->pool, 0, NULL), "uva_tpool_close");
}

void bench_tpool_cpu(const bench_params_t *params) {
  uva_tpool_options_t options;
  plain_run_t plain;
  cpu_run_t r;
  uv_loop_t loop;
  uint64_t start;
  uint64_t i;
  double seconds;
  uva_msg_t *arg;
  int rows;

  memset(&r, 0, sizeof(r));
  r.n = params->n;
  if (r.n == 0 || r.n > KERNEL_HEIGHT || KERNEL_HEIGHT % r.n != 0)
    bench_fail("tpool-cpu: n (the bands) must divide %d", KERNEL_HEIGHT);
  rows = KERNEL_HEIGHT / (int)r.n;
  plain = run_plain();
  memset(&options, 0, sizeof(options));
  options.max_threads = params->actors != 0 ? params->actors : cpus();
  r.tasks = calloc(r.n, sizeof(*r.tasks));
  if (r.tasks == NULL)
    bench_fail("out of memory");
  bench_check(uv_loop_init(&loop), "uv_loop_init");
  bench_check(uva_tpool_init(&r.pool, &loop, &options), "uva_tpool_init");
  start = uv_hrtime();
  for (i = 0; i < r.n; i++) {
    bench_check(uva_msg_new(&arg), "uva_msg_new");
    msgpack_pack_array(uva_msg_packer(arg), 2);
    msgpack_pack_int64(uva_msg_packer(arg), (int64_t)i * rows);
    msgpack_pack_int64(uva_msg_packer(arg), (int64_t)(i + 1) * rows);
    r.tasks[i].data = &r;
    bench_check(uva_tpool_submit(&r.pool, &r.tasks[i], fn_band, arg, NULL, on_band), "uva_tpool_submit");
  }
  bench_check(uv_run(&loop, UV_RUN_DEFAULT), "uv_run");
  seconds = bench_seconds(start);
  bench_check(uv_loop_close(&loop), "uv_loop_close");
  if (r.sum != plain.sum)
    bench_fail("tpool-cpu: checksum %llu, the plain thread's %llu", (unsigned long long)r.sum,
               (unsigned long long)plain.sum);
  fprintf(stderr, "tpool-cpu: %u workers, %llu bands: %.1f ms; one plain thread %.1f ms\n",
          options.max_threads, (unsigned long long)r.n, seconds * 1e3, plain.seconds * 1e3);
  bench_result("uvactor", "tpool-cpu", r.n, plain.seconds / seconds, "x");
  free(r.tasks);
}

/* ---- tpool-bytes --------------------------------------------------------------------------------- */

/* The buffers belong to the run: made and filled before the clock, freed after it (as bigmsg-transfer's
 * are), so the clock sees the moves and the stamp checks, not malloc and the kernel's page work. A buffer
 * moves to a task and back to the run when the task is done; the message's free function is a no-op. */
static void keep_buffer(void *ptr) {
  (void)ptr;
}

typedef struct {
  uva_tpool_t pool;
  uva_task_t task[WINDOW];
  unsigned char **bufs; /* slot s uses bufs[s * BYTES_PER_SLOT ...] in turn */
  unsigned int turn[WINDOW];
  size_t size;
  uint64_t n;
  uint64_t submitted;
  uint64_t done;
} bytes_run_t;

/* [seq, buffer] -> [seq, digest]: the digest is the two stamps, read where the buffer lies. */
static int fn_bytes(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  msgpack_object obj;
  unsigned char *data;
  uint64_t seq;
  size_t len;
  void *p;

  (void)ctx;
  if (uva_msg_object(arg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 2 ||
      uva_msg_take_buffer(arg, &obj.via.array.ptr[1], &p, &len, NULL) != 0)
    return UV_EINVAL;
  seq = obj.via.array.ptr[0].via.u64;
  data = p;
  if (uva_msg_new(result) != 0)
    return UV_ENOMEM;
  msgpack_pack_array(uva_msg_packer(*result), 2);
  msgpack_pack_uint64(uva_msg_packer(*result), seq);
  msgpack_pack_uint32(uva_msg_packer(*result), (uint32_t)data[0] << 8 | data[len - 1]);
  return 0;
}

static uint32_t digest_of(uint64_t seq) {
  return (uint32_t)(seq % 251) << 8 | (uint32_t)((seq * 7) % 253);
}

static void bytes_submit(bytes_run_t *r, int slot);

static void on_bytes(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  bytes_run_t *r = task->data;
  msgpack_object obj;
  uint64_t seq;

  if (status != 0)
    bench_fail("tpool-bytes: a task failed: %s", text);
  bench_check(uva_msg_object(result, &obj), "uva_msg_object");
  seq = obj.via.array.ptr[0].via.u64;
  if (obj.via.array.ptr[1].via.u64 != digest_of(seq))
    bench_fail("tpool-bytes: task %llu: wrong digest", (unsigned long long)seq);
  uva_msg_free(result);
  r->done++;
  if (r->submitted < r->n)
    bytes_submit(r, (int)(task - r->task));
  else if (r->done == r->n)
    bench_check(uva_tpool_close(&r->pool, 0, NULL), "uva_tpool_close");
}

static void bytes_submit(bytes_run_t *r, int slot) {
  uint64_t seq = r->submitted++;
  unsigned char *buf = r->bufs[slot * BYTES_PER_SLOT + r->turn[slot]++ % BYTES_PER_SLOT];
  uva_msg_t *arg;

  bench_payload_stamp(buf, r->size, seq);
  bench_check(uva_msg_new(&arg), "uva_msg_new");
  msgpack_pack_array(uva_msg_packer(arg), 2);
  msgpack_pack_uint64(uva_msg_packer(arg), seq);
  bench_check(uva_msg_pack_buffer(arg, buf, r->size, keep_buffer), "uva_msg_pack_buffer");
  r->task[slot].data = r;
  bench_check(uva_tpool_submit(&r->pool, &r->task[slot], fn_bytes, arg, NULL, on_bytes), "uva_tpool_submit");
}

#define NBUFFERS (WINDOW * BYTES_PER_SLOT)

static unsigned char **make_buffers(size_t n, size_t size) {
  unsigned char **bufs = calloc(n, sizeof(*bufs));
  size_t i;

  if (bufs == NULL)
    bench_fail("out of memory");
  for (i = 0; i < n; i++) {
    bufs[i] = malloc(size);
    if (bufs[i] == NULL)
      bench_fail("out of memory");
    bench_payload_fill(bufs[i], size);
  }
  return bufs;
}

static void free_buffers(unsigned char **bufs, uint64_t n) {
  uint64_t i;

  for (i = 0; i < n; i++)
    free(bufs[i]);
  free(bufs);
}

void bench_tpool_bytes(const bench_params_t *params) {
  uva_tpool_options_t options;
  bytes_run_t r;
  uv_loop_t loop;
  uint64_t start;
  double seconds;
  int i;

  memset(&r, 0, sizeof(r));
  r.n = params->n;
  r.size = params->size;
  if (r.n < WINDOW)
    bench_fail("tpool-bytes: n must be at least %d", WINDOW);
  r.bufs = make_buffers(NBUFFERS, r.size);
  memset(&options, 0, sizeof(options));
  options.max_threads = params->actors;
  bench_check(uv_loop_init(&loop), "uv_loop_init");
  bench_check(uva_tpool_init(&r.pool, &loop, &options), "uva_tpool_init");
  start = uv_hrtime();
  for (i = 0; i < WINDOW; i++)
    bytes_submit(&r, i);
  bench_check(uv_run(&loop, UV_RUN_DEFAULT), "uv_run");
  seconds = bench_seconds(start);
  bench_check(uv_loop_close(&loop), "uv_loop_close");
  if (r.done != r.n)
    bench_fail("tpool-bytes: %llu of %llu tasks completed", (unsigned long long)r.done,
               (unsigned long long)r.n);
  bench_result("uvactor", "tpool-bytes", r.n, (double)r.n / seconds, "tasks/s");
  free_buffers(r.bufs, NBUFFERS);
}

/* queuework-bytes: the work request carries the buffer's pointer; the digest comes back in the request. */
typedef struct {
  unsigned char **bufs;
  size_t size;
  uint64_t seq[WINDOW];
  unsigned int turn[WINDOW];
  uint32_t digest[WINDOW];
} qw_bytes_t;

static qw_bytes_t qw_bytes;
static qw_run_t *qw_bytes_run;

static unsigned char *qw_bytes_buffer(int slot) {
  return qw_bytes.bufs[slot * BYTES_PER_SLOT + qw_bytes.turn[slot] % BYTES_PER_SLOT];
}

static void qw_bytes_work(uv_work_t *req) {
  int slot = (int)(req - qw_bytes_run->req);
  const unsigned char *data = qw_bytes_buffer(slot);

  qw_bytes.digest[slot] = (uint32_t)data[0] << 8 | data[qw_bytes.size - 1];
}

static void qw_bytes_check(uv_work_t *req) {
  int slot = (int)(req - qw_bytes_run->req);

  if (qw_bytes.digest[slot] != digest_of(qw_bytes.seq[slot]))
    bench_fail("queuework-bytes: wrong digest");
  /* The next request in this slot checks the next buffer, stamped now as tpool-bytes stamps its own. */
  qw_bytes.seq[slot] = qw_bytes_run->submitted;
  qw_bytes.turn[slot]++;
  bench_payload_stamp(qw_bytes_buffer(slot), qw_bytes.size, qw_bytes.seq[slot]);
}

void bench_queuework_bytes(const bench_params_t *params) {
  qw_run_t r;
  double seconds;
  int i;

  memset(&r, 0, sizeof(r));
  r.n = params->n;
  r.work = qw_bytes_work;
  r.check = qw_bytes_check;
  qw_bytes.size = params->size;
  qw_bytes.bufs = make_buffers(NBUFFERS, params->size);
  for (i = 0; i < WINDOW; i++) {
    qw_bytes.seq[i] = (uint64_t)i;
    bench_payload_stamp(qw_bytes_buffer(i), qw_bytes.size, (uint64_t)i);
  }
  qw_bytes_run = &r;
  seconds = qw_run(&r, params->actors != 0 ? params->actors : cpus());
  bench_result("queuework", "tpool-bytes", r.n, (double)r.n / seconds, "tasks/s");
  free(r.lat);
  free_buffers(qw_bytes.bufs, NBUFFERS);
}
