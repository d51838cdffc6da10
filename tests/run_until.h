/* Running a test's loop until something has happened, with a hang guard (the includer's HANG_GUARD_MS). */
#ifndef UVA_TESTS_RUN_UNTIL_H
#define UVA_TESTS_RUN_UNTIL_H

#include <check.h>

#include "uvactor.h"

static void on_tick(uv_timer_t *timer) {
  (void)timer; /* only makes UV_RUN_ONCE return, so the deadline is looked at */
}

/* Runs loop until *counter reaches want, the loop has nothing left to do, or HANG_GUARD_MS pass. */
static int run_until(uv_loop_t *loop, const int *counter, int want) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  uv_timer_t tick;

  ck_assert_int_eq(uv_timer_init(loop, &tick), 0);
  ck_assert_int_eq(uv_timer_start(&tick, on_tick, 5, 5), 0);
  uv_unref((uv_handle_t *)&tick);
  while (*(volatile const int *)counter < want && uv_loop_alive(loop) && uv_hrtime() < deadline)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *counter >= want;
}

#endif /* UVA_TESTS_RUN_UNTIL_H */
