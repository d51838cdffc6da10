/* actors/pool.c, too late: the program used libuv's threadpool before it called uva_pool_init().
 *
 * Its own program, because the pool starts once per process and test_pool.c needs it not started. The
 * tests run in order in one process (UVA_TEST_NOFORK): the first uses the pool through plain libuv, on a
 * private loop, which starts it with libuv's default size (UV_THREADPOOL_SIZE is cleared before anything
 * runs); the next ones check that uva_pool_init() says so (UV_EBUSY), also once the thread ids wrapped
 * around since, and that the failed call changed nothing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "pool_helpers.h"

static int work_ran;

static void work(uv_work_t *req) {
  (void)req;
  work_ran = 1;
}

/* A number from a /proc file, or -1. */
static long proc_number(const char *path) {
  long n = -1;
  FILE *f;

  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld", &n) != 1)
    n = -1;
  fclose(f);
  return n;
}

/* Makes threads until the next thread ids are the last ones below pid_max, so that the pool's threads,
 * made next, take ids on both sides of the wrap around; 0 where that would take too long (a large
 * pid_max), or the system does not say. */
#define WRAP_MAX 70000 /* threads to make at most: about a second */

static int bring_ids_to_the_wrap(void) {
  long pid_max = proc_number("/proc/sys/kernel/pid_max");
  long last = proc_number("/proc/sys/kernel/ns_last_pid");
  uv_thread_t thread;
  long made;

  if (pid_max < 0 || last < 0 || pid_max - last > WRAP_MAX) {
    printf("# not brought to the wrap: thread ids wrap after %ld more (pid_max %ld), over %d\n",
           pid_max - last, pid_max, WRAP_MAX);
    return 0;
  }
  for (made = 0; last < pid_max - 4; made++) { /* the pool's next four: three above, one after */
    ck_assert_int_lt(made, 2 * WRAP_MAX);
    ck_assert_int_eq(uv_thread_create(&thread, no_op_thread, NULL), 0);
    ck_assert_int_eq(uv_thread_join(&thread), 0);
    if (pid_max - last < 256 || made % 64 == 0)
      last = proc_number("/proc/sys/kernel/ns_last_pid");
  }
  return 1;
}

/* Plain libuv starts the pool: libuv's default of 4 threads, then uva_pool_init() at once says it runs.
 * Where it can be arranged, the pool's threads take ids on both sides of a wrap around (past pid_max): made
 * in the call's clock tick, some with ids above the last one handed out, as a new pool's would be.
 * uva_pool_init() took such a pool for new and said 0, with a size it did not have: by its threads' ids
 * when the wrap came in an earlier tick (an independent attack, 6 of 6 runs), then by their start times
 * and ids in the same tick (a second attack, 12 of 15). */
START_TEST(test_pool_used_first) {
  uv_work_t req;
  uv_loop_t loop;
  long before;

  (void)bring_ids_to_the_wrap();
  before = thread_count();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_queue_work(&loop, &req, work, NULL), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(uva_pool_init(3), UV_EBUSY);
  ck_assert_uint_eq(uva_pool_size(), 4);
  ck_assert_int_eq(work_ran, 1);
  ck_assert_int_eq(thread_count() - before, 4);
}
END_TEST

/* The pool runs already: its size can no longer change, and uva_pool_init() says so instead of silence. */
START_TEST(test_init_after_use_ebusy) {
  long before = thread_count();

  ck_assert_int_eq(uva_pool_init(2), UV_EBUSY);
  ck_assert_int_eq(uva_pool_init(2), UV_EBUSY);
  ck_assert_int_eq(uva_pool_init(8), UV_EBUSY);
  ck_assert_int_eq(thread_count(), before);
}
END_TEST

/* A call that fails has no effect: the size reported is still the running pool's, and the environment (which
 * a later libuv user or a child process reads) is as it was. */
START_TEST(test_failed_init_changes_nothing) {
  ck_assert_int_eq(uva_pool_init(2), UV_EBUSY);
  ck_assert_uint_eq(uva_pool_size(), 4);
  ck_assert_ptr_null(getenv("UV_THREADPOOL_SIZE"));
}
END_TEST

#define UVA_TEST_NOFORK
#define UVA_TEST_BEFORE_ALL before_all
#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      /* In this order: the first test starts the pool. */
      TCASE("pool_late", 0, NULL, NULL),
      TEST(test_pool_used_first),
      TEST(test_init_after_use_ebusy),
      TEST(test_failed_init_changes_nothing),
  };

  return suite_of_rows("pool_late", rows, sizeof(rows) / sizeof(rows[0]));
}
