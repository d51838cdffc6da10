/* The main() every Check suite shares: TAP on stdout when CK_TAP_LOG_FILE_NAME=- (as `make check` sets),
 * Check's own report otherwise. A suite file defines its Suite *make_suite(void) and includes this last.
 *
 * Opt-ins, defined before the include:
 *   UVA_TEST_NOFORK         every test runs in this one process, in the order it was added, whatever CK_FORK
 *                           says: for suites whose tests share process-wide state that can be set up once
 *                           (libuv's threadpool), or that a fork would break (libuv#4443).
 *   UVA_TEST_BEFORE_ALL fn  main() calls void fn(void) first, before the suite is made. */
#ifndef UVA_TESTS_CHECK_MAIN_H
#define UVA_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static Suite *make_suite(void);

int main(void) {
  SRunner *runner;
  int failed;

#ifdef UVA_TEST_BEFORE_ALL
  UVA_TEST_BEFORE_ALL();
#endif
  runner = srunner_create(make_suite());
#ifdef UVA_TEST_NOFORK
  srunner_set_fork_status(runner, CK_NOFORK);
#endif
  srunner_run_all(runner, getenv("CK_TAP_LOG_FILE_NAME") != NULL ? CK_SILENT : CK_ENV);
  failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* UVA_TESTS_CHECK_MAIN_H */
