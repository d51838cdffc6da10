/* The main() every Check suite shares: TAP on stdout when CK_TAP_LOG_FILE_NAME=- (as `make check` sets),
 * Check's own report otherwise. A suite file defines its Suite *make_suite(void) and includes this last. */
#ifndef UVA_TESTS_CHECK_MAIN_H
#define UVA_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static Suite *make_suite(void);

int main(void) {
  SRunner *runner = srunner_create(make_suite());
  int failed;

  srunner_run_all(runner, getenv("CK_TAP_LOG_FILE_NAME") != NULL ? CK_SILENT : CK_ENV);
  failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* UVA_TESTS_CHECK_MAIN_H */
