/* Running a test's loop until something has happened, with a hang guard (the includer's HANG_GUARD_MS). */
#ifndef UVA_TESTS_RUN_UNTIL_H
#define UVA_TESTS_RUN_UNTIL_H

#include <check.h>

#include "uvactor.h"

static void on_hang_guard(uv_timer_t *timer) {
  *(int *)timer->data = 1;
}

/* Runs loop one turn at a time until *counter reaches want, the loop has nothing left to do, or
 * HANG_GUARD_MS pass. A turn that delivers messages returns from uv_run(UV_RUN_ONCE) like any other
 * callback, so only a hang waits for the guard's timer. */
static int run_until(uv_loop_t *loop, const int *counter, int want) {
  uv_timer_t guard;
  int expired = 0;

  ck_assert_int_eq(uv_timer_init(loop, &guard), 0);
  guard.data = &expired;
  ck_assert_int_eq(uv_timer_start(&guard, on_hang_guard, HANG_GUARD_MS, 0), 0);
  uv_unref((uv_handle_t *)&guard);
  while (*(volatile const int *)counter < want && uv_loop_alive(loop) && !expired)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *counter >= want;
}

#endif /* UVA_TESTS_RUN_UNTIL_H */
