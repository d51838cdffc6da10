/* mandel: renders the Mandelbrot set into a PGM file, band by band, on a task pool, and prints the
 * speed-up over one thread.
 *
 *     mandel [-j THREADS] [-w WIDTH] [-h HEIGHT] [-i ITERATIONS] [-o FILE]
 *
 * Each band of rows is a task: its argument is [y0, y1, width, height, iterations]; the worker renders the
 * band into a buffer of its own and moves that buffer into its result (no copy on the way back); main
 * copies it into the image. Ctrl-C closes the pool with UVA_TPOOL_CLOSE_CANCEL: queued bands never run,
 * running ones see uva_tpool_ctx_cancelled() and stop at their next row, and nothing is written. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvactor.h>

#define BAND_ROWS 8

typedef struct {
  int width;
  int height;
  int iterations;
  unsigned char *image;
  uva_task_t *tasks;
  int bands;
  int done;
  int failed;
  int cancelled;
  int interrupted;
  uva_tpool_t pool;
  uv_signal_t sigint;
  uint64_t start;
  double seconds;
  uva_tpool_stats_t stats;
} render_t;

/* One pixel: the grey of its escape time, 0 (black) inside the set. */
static unsigned char pixel(int x, int y, int width, int height, int iterations) {
  double cr = -2.2 + 3.2 * x / width;
  double ci = -1.2 + 2.4 * y / height;
  double zr = 0, zi = 0, t;
  int i;

  for (i = 0; i < iterations && zr * zr + zi * zi <= 4.0; i++) {
    t = zr * zr - zi * zi + cr;
    zi = 2 * zr * zi + ci;
    zr = t;
  }
  return i == iterations ? 0 : (unsigned char)(255 - (i * 255) / iterations);
}

/* Renders rows [y0, y1) into out; stops early (returns 0) once ctx is cancelled. ctx may be NULL. */
static int render_rows(uva_tpool_ctx_t *ctx, unsigned char *out, int y0, int y1, int width, int height,
                       int iterations) {
  int x, y;

  for (y = y0; y < y1; y++) {
    if (uva_tpool_ctx_cancelled(ctx))
      return 0;
    for (x = 0; x < width; x++)
      *out++ = pixel(x, y, width, height, iterations);
  }
  return 1;
}

/* ---- on a worker --------------------------------------------------------------------------------- */

static int render_band(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  msgpack_object obj;
  const msgpack_object *v;
  unsigned char *band;
  int y0, y1, width, height, iterations;

  if (uva_msg_object(arg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 5)
    return uva_tpool_ctx_fail(ctx, UV_EINVAL, "a band is [y0, y1, width, height, iterations]");
  v = obj.via.array.ptr;
  y0 = (int)v[0].via.i64;
  y1 = (int)v[1].via.i64;
  width = (int)v[2].via.i64;
  height = (int)v[3].via.i64;
  iterations = (int)v[4].via.i64;
  band = malloc((size_t)(y1 - y0) * width);
  if (band == NULL)
    return uva_tpool_ctx_fail(ctx, UV_ENOMEM, "no memory for a band");
  if (!render_rows(ctx, band, y0, y1, width, height, iterations)) {
    free(band);
    return UV_ECANCELED;
  }
  /* [y0, pixels]: the band's buffer moves into the result, and on to main, without a copy. */
  if (uva_msg_new(result) != 0) {
    free(band);
    return UV_ENOMEM;
  }
  msgpack_pack_array(uva_msg_packer(*result), 2);
  msgpack_pack_int(uva_msg_packer(*result), y0);
  if (uva_msg_pack_buffer(*result, band, (size_t)(y1 - y0) * width, free) != 0) {
    free(band);
    return UV_ENOMEM;
  }
  return 0;
}

/* ---- on main's loop ------------------------------------------------------------------------------ */

static void on_closed(uva_tpool_t *pool) {
  render_t *r = pool->data;

  uv_close((uv_handle_t *)&r->sigint, NULL);
}

static void finish(render_t *r) {
  r->seconds = (double)(uv_hrtime() - r->start) / 1e9;
  uva_tpool_stats(&r->pool, &r->stats);
  uva_tpool_close(&r->pool, 0, on_closed);
}

static void on_band(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  render_t *r = task->data;
  msgpack_object obj;
  void *pixels;
  size_t len;

  if (status == UV_ECANCELED) {
    r->cancelled++;
  } else if (status != 0) {
    fprintf(stderr, "mandel: a band failed: %s\n", text);
    r->failed++;
  } else if (uva_msg_object(result, &obj) == 0 &&
             uva_msg_take_buffer(result, &obj.via.array.ptr[1], &pixels, &len, NULL) == 0) {
    memcpy(r->image + (size_t)obj.via.array.ptr[0].via.i64 * r->width, pixels, len);
    free(pixels);
  }
  uva_msg_free(result);
  if (++r->done == r->bands && !r->interrupted)
    finish(r);
}

static void on_sigint(uv_signal_t *signal, int signum) {
  render_t *r = signal->data;

  (void)signum;
  fprintf(stderr, "\nmandel: interrupted: cancelling the bands not done yet\n");
  uv_signal_stop(signal);
  r->interrupted = 1;
  uva_tpool_close(&r->pool, UVA_TPOOL_CLOSE_CANCEL, on_closed);
}

static int submit_bands(render_t *r) {
  uva_msg_t *arg;
  int b, y0, err;

  for (b = 0; b < r->bands; b++) {
    y0 = b * BAND_ROWS;
    if ((err = uva_msg_new(&arg)) != 0)
      return err;
    msgpack_pack_array(uva_msg_packer(arg), 5);
    msgpack_pack_int(uva_msg_packer(arg), y0);
    msgpack_pack_int(uva_msg_packer(arg), y0 + BAND_ROWS < r->height ? y0 + BAND_ROWS : r->height);
    msgpack_pack_int(uva_msg_packer(arg), r->width);
    msgpack_pack_int(uva_msg_packer(arg), r->height);
    msgpack_pack_int(uva_msg_packer(arg), r->iterations);
    r->tasks[b].data = r;
    err = uva_tpool_submit(&r->pool, &r->tasks[b], render_band, arg, NULL, on_band);
    if (err != 0) {
      uva_msg_free(arg);
      return err;
    }
  }
  return 0;
}

static int write_pgm(const char *path, const render_t *r) {
  FILE *f = fopen(path, "wb");
  int ok;

  if (f == NULL)
    return 0;
  fprintf(f, "P5\n%d %d\n255\n", r->width, r->height);
  ok = fwrite(r->image, 1, (size_t)r->width * r->height, f) == (size_t)r->width * r->height;
  return fclose(f) == 0 && ok;
}

/* The same image on this thread alone, for the speed-up (and to check the pool's); then the file. */
static int check_and_write(const render_t *r, const char *out) {
  unsigned char *check = malloc((size_t)r->width * r->height);
  double one_thread;
  uint64_t start;
  int same;

  if (check == NULL)
    return 1;
  start = uv_hrtime();
  render_rows(NULL, check, 0, r->height, r->width, r->height, r->iterations);
  one_thread = (double)(uv_hrtime() - start) / 1e9;
  same = memcmp(check, r->image, (size_t)r->width * r->height) == 0;
  free(check);
  if (!same) {
    fprintf(stderr, "mandel: the pool's image differs from one thread's\n");
    return 1;
  }
  if (!write_pgm(out, r)) {
    fprintf(stderr, "mandel: cannot write %s\n", out);
    return 1;
  }
  printf("%dx%d, %d iterations, %d bands on %u threads: %.3f s; one thread: %.3f s; speed-up %.2fx\n",
         r->width, r->height, r->iterations, r->bands, r->stats.threads, r->seconds, one_thread,
         one_thread / r->seconds);
  printf("band run time: mean %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.2f ms; wrote %s\n",
         r->stats.run.mean_ns / 1e6, r->stats.run.p50_ns / 1e6, r->stats.run.p99_ns / 1e6,
         r->stats.run.max_ns / 1e6, out);
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: mandel [-j THREADS] [-w WIDTH] [-h HEIGHT] [-i ITERATIONS] [-o FILE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  uva_tpool_options_t options;
  const char *out = "mandel.pgm";
  uv_loop_t *loop = uv_default_loop();
  render_t r;
  int status;
  int opt;
  int err;

  memset(&r, 0, sizeof(r));
  memset(&options, 0, sizeof(options));
  r.width = 1600;
  r.height = 1200;
  r.iterations = 600;
  while ((opt = getopt(argc, argv, "j:w:h:i:o:")) != -1) {
    switch (opt) {
    case 'j':
      options.max_threads = (unsigned int)atoi(optarg);
      break;
    case 'w':
      r.width = atoi(optarg);
      break;
    case 'h':
      r.height = atoi(optarg);
      break;
    case 'i':
      r.iterations = atoi(optarg);
      break;
    case 'o':
      out = optarg;
      break;
    default:
      usage();
    }
  }
  if (r.width <= 0 || r.height <= 0 || r.iterations <= 0 || optind != argc)
    usage();
  r.bands = (r.height + BAND_ROWS - 1) / BAND_ROWS;
  r.image = malloc((size_t)r.width * r.height);
  r.tasks = calloc((size_t)r.bands, sizeof(*r.tasks));
  if (r.image == NULL || r.tasks == NULL) {
    free(r.image);
    free(r.tasks);
    return 1;
  }

  options.name = "mandel";
  options.flags = UVA_TPOOL_STATS;
  r.pool.data = &r;
  err = uva_tpool_init(&r.pool, loop, &options);
  if (err != 0) {
    fprintf(stderr, "mandel: %s\n", uva_strerror(err));
    free(r.image);
    free(r.tasks);
    return 1;
  }
  uv_signal_init(loop, &r.sigint);
  r.sigint.data = &r;
  uv_signal_start(&r.sigint, on_sigint, SIGINT);
  r.start = uv_hrtime();
  err = submit_bands(&r);
  if (err != 0) {
    fprintf(stderr, "mandel: submit: %s\n", uva_strerror(err));
    uva_tpool_close(&r.pool, UVA_TPOOL_CLOSE_CANCEL, on_closed);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  if (err != 0 || r.failed != 0) {
    status = 1;
  } else if (r.interrupted) {
    fprintf(stderr, "mandel: %d of %d bands were done; nothing written\n", r.done - r.cancelled, r.bands);
    status = 130;
  } else {
    status = check_and_write(&r, out);
  }
  free(r.image);
  free(r.tasks);
  return status;
}
