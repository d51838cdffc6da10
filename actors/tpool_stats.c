/* The task pool's stats: exact counters, always kept (a few increments on the owner's thread), and, with
 * UVA_TPOOL_STATS, the wait and run time summaries and the time workers spent in task functions.
 *
 * A summary is a log-linear histogram: values below 32 ns have a bucket each, and every power of two above
 * is cut into 32 buckets, so a percentile read from it is within 1/32 of the value; count, sum and max are
 * kept exactly. 1920 buckets cover every uint64_t: 15 KiB per summary, allocated only with the flag. */
#include "tpool.h"

#define SUB_BITS 5
#define SUB (1u << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS + 1) * SUB)

struct uva__tpool_hist_s {
  uint64_t count;
  uint64_t sum;
  uint64_t max;
  uint64_t bucket[NBUCKETS];
};

static unsigned int bucket_of(uint64_t v) {
  unsigned int e;

  if (v < SUB)
    return (unsigned int)v;
  e = 63 - (unsigned int)__builtin_clzll(v);
  return (e - SUB_BITS + 1) * SUB + (unsigned int)((v >> (e - SUB_BITS)) & (SUB - 1));
}

/* The middle of bucket b. */
static uint64_t bucket_value(unsigned int b) {
  unsigned int e;
  uint64_t low;

  if (b < SUB)
    return b;
  e = b / SUB + SUB_BITS - 1;
  low = (uint64_t)(SUB + b % SUB) << (e - SUB_BITS);
  return low + ((uint64_t)1 << (e - SUB_BITS)) / 2;
}

static void hist_add(uva__tpool_hist_t *h, uint64_t v) {
  h->count++;
  h->sum += v;
  if (v > h->max)
    h->max = v;
  h->bucket[bucket_of(v)]++;
}

static uint64_t hist_percentile(const uva__tpool_hist_t *h, unsigned int percent) {
  uint64_t rank = (h->count * percent + 99) / 100;
  uint64_t seen = 0;
  unsigned int b;

  if (rank == 0)
    rank = 1;
  for (b = 0; b < NBUCKETS; b++) {
    seen += h->bucket[b];
    if (seen >= rank)
      return bucket_value(b) < h->max ? bucket_value(b) : h->max;
  }
  return h->max;
}

static void hist_summary(const uva__tpool_hist_t *h, uva_tpool_summary_t *out) {
  if (h == NULL || h->count == 0)
    return;
  out->count = h->count;
  out->mean_ns = h->sum / h->count;
  out->p50_ns = hist_percentile(h, 50);
  out->p90_ns = hist_percentile(h, 90);
  out->p99_ns = hist_percentile(h, 99);
  out->max_ns = h->max;
}

int uva__tpool_stats_init(uva__tpool_t *p) {
  if (!(p->flags & UVA_TPOOL_STATS))
    return 0;
  p->wait_hist = uva__calloc(1, sizeof(*p->wait_hist));
  p->run_hist = uva__calloc(1, sizeof(*p->run_hist));
  if (p->wait_hist == NULL || p->run_hist == NULL) {
    uva__tpool_stats_free(p);
    return UV_ENOMEM;
  }
  return 0;
}

void uva__tpool_stats_free(uva__tpool_t *p) {
  free(p->wait_hist);
  free(p->run_hist);
  p->wait_hist = NULL;
  p->run_hist = NULL;
}

void uva__tpool_count(uva__tpool_t *p, int status) {
  if (status == 0)
    p->completed++;
  else if (status == UV_ECANCELED)
    p->cancelled++;
  else if (status == UV_ETIMEDOUT)
    p->timed_out++;
  else
    p->failed++;
}

void uva__tpool_record(uva__tpool_t *p, const uva_tpool_ctx_t *ctx) {
  uint64_t start;

  if (p->wait_hist == NULL || !ctx->ran)
    return;
  start = atomic_load_explicit(&ctx->start_ns, memory_order_relaxed);
  hist_add(p->wait_hist, start > ctx->submit_ns ? start - ctx->submit_ns : 0);
  hist_add(p->run_hist, ctx->end_ns > start ? ctx->end_ns - start : 0);
}

int uva_tpool_stats(uva_tpool_t *pool, uva_tpool_stats_t *stats) {
  const uva__tpool_worker_t *w;
  uva__tpool_t *p;
  uint64_t since;
  uint64_t now;
  int err;

  err = uva__tpool_enter(pool, &p);
  if (err != 0)
    return err;
  if (stats == NULL) {
    uva__tpool_leave(pool);
    return UV_EINVAL;
  }
  memset(stats, 0, sizeof(*stats));
  uva__tpool_lock(p);
  stats->threads = p->nworkers;
  stats->queued = p->queued;
  stats->running = p->running;
  stats->submitted = p->submitted;
  stats->completed = p->completed;
  stats->failed = p->failed;
  stats->cancelled = p->cancelled;
  stats->timed_out = p->timed_out;
  stats->late = p->late;
  stats->worker_deaths = p->worker_deaths;
  for (w = p->workers; w != NULL; w = w->next)
    if (w->unfinished != 0)
      stats->busy_threads++;
  if (p->flags & UVA_TPOOL_STATS) {
    now = uv_hrtime();
    stats->busy_ns = p->busy_ns_ended;
    stats->thread_ns = p->thread_ns;
    for (w = p->workers; w != NULL; w = w->next) {
      since = atomic_load_explicit(&w->running_since, memory_order_relaxed);
      stats->busy_ns += atomic_load_explicit(&w->busy_ns, memory_order_relaxed);
      stats->busy_ns += since != 0 && now > since ? now - since : 0; /* the function running now */
      stats->thread_ns += now - w->born_ns;
    }
    hist_summary(p->wait_hist, &stats->wait);
    hist_summary(p->run_hist, &stats->run);
  }
  uva__tpool_unlock(p);
  uva__tpool_leave(pool);
  return 0;
}

int uva_tpool_stats_reset(uva_tpool_t *pool) {
  uva__tpool_t *p;
  int err;

  err = uva__tpool_enter(pool, &p);
  if (err != 0)
    return err;
  uva__tpool_lock(p);
  p->submitted = p->completed = p->failed = p->cancelled = p->timed_out = p->late = p->worker_deaths = 0;
  if (p->wait_hist != NULL) {
    memset(p->wait_hist, 0, sizeof(*p->wait_hist));
    memset(p->run_hist, 0, sizeof(*p->run_hist));
  }
  uva__tpool_unlock(p);
  uva__tpool_leave(pool);
  return 0;
}

double uva_tpool_utilization(const uva_tpool_stats_t *before, const uva_tpool_stats_t *after) {
  double busy;
  double alive;

  if (before == NULL || after == NULL || after->thread_ns <= before->thread_ns)
    return 0;
  alive = (double)(after->thread_ns - before->thread_ns);
  busy = after->busy_ns > before->busy_ns ? (double)(after->busy_ns - before->busy_ns) : 0;
  return busy >= alive ? 1 : busy / alive;
}
