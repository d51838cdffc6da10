/* Threads the port suites start: a plain one, or one that runs a loop of its own until its ports close. */
#ifndef UVA_TESTS_LOOP_THREAD_H
#define UVA_TESTS_LOOP_THREAD_H

#include "port_fixture.h"

static inline void thread_start(uv_thread_t *thread, uv_thread_cb fn, void *arg) {
  ck_assert_int_eq(uv_thread_create(thread, fn, arg), 0);
}

static inline void thread_join(uv_thread_t *thread) {
  ck_assert_int_eq(uv_thread_join(thread), 0);
}

/* A thread that runs its own loop: setup starts its ports, then the loop runs until they are all closed. */
typedef struct loop_thread_s loop_thread_t;
struct loop_thread_s {
  uv_thread_t thread;
  uv_loop_t loop;
  void (*setup)(loop_thread_t *lt);
  void *arg;
  int close_err;
};

static inline void loop_thread_main(void *arg) {
  loop_thread_t *lt = arg;

  REQUIRE(uv_loop_init(&lt->loop) == 0);
  lt->setup(lt);
  uv_run(&lt->loop, UV_RUN_DEFAULT);
  lt->close_err = uv_loop_close(&lt->loop);
}

static inline void loop_thread_start(loop_thread_t *lt, void (*setup)(loop_thread_t *lt), void *arg) {
  lt->setup = setup;
  lt->arg = arg;
  lt->close_err = -1;
  thread_start(&lt->thread, loop_thread_main, lt);
}

static inline void loop_thread_join(loop_thread_t *lt) {
  thread_join(&lt->thread);
  ck_assert_int_eq(lt->close_err, 0);
}

#endif /* UVA_TESTS_LOOP_THREAD_H */
