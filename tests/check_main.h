/* The main() every Check suite shares, and the registry it builds the suite from.
 *
 * A suite file lists its tests in one place, the table its make_suite() hands to suite_of_rows(): rows in the
 * order the tests run, each either a TCase (TCASE: its name, timeout and checked fixture) or a test of
 * the TCase above it (TEST, or LOOP_TEST for Check's loop tests). It includes this file after its
 * tests and before make_suite():
 *
 *   #include "check_main.h"
 *
 *   static Suite *make_suite(void) {
 *     const test_row_t rows[] = {
 *         TCASE("delivery", 30, loop_setup, loop_teardown),
 *         TEST(test_channel_init),
 *         LOOP_TEST(test_name_is_thread_name, 0, 3),
 *     };
 *
 *     return suite_of_rows("port", rows, sizeof(rows) / sizeof(rows[0]));
 *   }
 *
 * UVA_TEST in the environment runs only the tests it names (commas or spaces between names, each a name or
 * an fnmatch() pattern: UVA_TEST=test_port_close, UVA_TEST='test_receive_*'), in the table's order, each in
 * its TCase with that TCase's fixture and timeout. A name that matches no test of the suite ends the program
 * before any test runs and lists the suite's tests: a typo must not pass as a run of nothing.
 *
 * Opt-ins, defined before the include:
 *   UVA_TEST_NOFORK         every test runs in this one process, in the order it was added, whatever CK_FORK
 *                           says: for suites whose tests share process-wide state that can be set up once
 *                           (libuv's threadpool), or that a fork would break (libuv#4443). A test of such a
 *                           suite may need the ones before it: UVA_TEST must name them too.
 *   UVA_TEST_BEFORE_ALL fn  main() calls void fn(void) first, before the suite is made. */
#ifndef UVA_TESTS_CHECK_MAIN_H
#define UVA_TESTS_CHECK_MAIN_H

#include <check.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A row of a suite's table: a TCase (tcase set) or a test (test set). */
typedef struct {
  const char *tcase; /* the TCase's name; the tests after this row are its own */
  double timeout;    /* its timeout in seconds; 0: Check's default (CK_DEFAULT_TIMEOUT) */
  SFun setup;        /* its checked fixture, run around each test; either may be NULL */
  SFun teardown;
  const TTest *test;        /* the test (START_TEST's name) */
  int loop_start, loop_end; /* it runs once for each _i in [loop_start, loop_end) */
} test_row_t;

#define TCASE(name, timeout, setup, teardown) \
  { (name), (timeout), (setup), (teardown), NULL, 0, 0 }
#define TEST(test) \
  { NULL, 0, NULL, NULL, (test), 0, 1 }
#define LOOP_TEST(test, start, end) \
  { NULL, 0, NULL, NULL, (test), (start), (end) }

#define TEST_NAMES_MAX 64

/* The names UVA_TEST gives, and which of them matched a test. */
typedef struct {
  char *copy; /* of UVA_TEST, cut into the names */
  const char *names[TEST_NAMES_MAX];
  int matched[TEST_NAMES_MAX];
  int n; /* 0: no UVA_TEST, every test runs */
} test_filter_t;

/* Ends the program before any test runs: UVA_TEST or the table is wrong. Lists the suite's tests. */
static void refuse_tests(const char *suite, const test_row_t *rows, size_t n, const char *why) {
  size_t i;

  /* On stdout for the TAP harness, which shows it in its summary; the list goes to the test's log. */
  if (getenv("CK_TAP_LOG_FILE_NAME") != NULL)
    printf("Bail out! %s\n", why);
  fprintf(stderr, "%s; the tests of suite %s are:\n", why, suite);
  for (i = 0; i < n; i++)
    if (rows[i].tcase == NULL)
      fprintf(stderr, "  %s\n", rows[i].test->name);
  exit(EXIT_FAILURE);
}

static int test_wanted(test_filter_t *filter, const char *test) {
  int wanted = filter->n == 0;
  int i;

  for (i = 0; i < filter->n; i++)
    if (fnmatch(filter->names[i], test, 0) == 0)
      wanted = filter->matched[i] = 1;
  return wanted;
}

/* The suite called name, made of the TCases and tests of rows that UVA_TEST asks for (every one when it is
 * unset or empty). A TCase none of whose tests is asked for is left out. */
static Suite *suite_of_rows(const char *name, const test_row_t *rows, size_t n) {
  test_filter_t filter = {NULL, {NULL}, {0}, 0};
  const char *env = getenv("UVA_TEST");
  const test_row_t *tcase = NULL;
  Suite *suite = suite_create(name);
  TCase *tc = NULL;
  char why[256];
  char *word;
  size_t i;

  if ((filter.copy = strdup(env != NULL ? env : "")) == NULL)
    abort();
  for (word = strtok(filter.copy, ", \t\n"); word != NULL; word = strtok(NULL, ", \t\n")) {
    if (filter.n == TEST_NAMES_MAX) {
      snprintf(why, sizeof(why), "UVA_TEST: more than %d names", TEST_NAMES_MAX);
      refuse_tests(name, rows, n, why);
    }
    filter.names[filter.n++] = word;
  }
  for (i = 0; i < n; i++) {
    if (rows[i].tcase != NULL) {
      tcase = &rows[i];
      tc = NULL;
      continue;
    }
    if (tcase == NULL)
      refuse_tests(name, rows, n, "the suite's table has a test before its first TCase");
    if (!test_wanted(&filter, rows[i].test->name))
      continue;
    if (tc == NULL) {
      tc = tcase_create(tcase->tcase);
      if (tcase->setup != NULL || tcase->teardown != NULL)
        tcase_add_checked_fixture(tc, tcase->setup, tcase->teardown);
      if (tcase->timeout > 0)
        tcase_set_timeout(tc, tcase->timeout);
      suite_add_tcase(suite, tc);
    }
    tcase_add_loop_test(tc, rows[i].test, rows[i].loop_start, rows[i].loop_end);
  }
  for (i = 0; i < (size_t)filter.n; i++)
    if (!filter.matched[i]) {
      snprintf(why, sizeof(why), "UVA_TEST: no test of suite %s is named %s", name, filter.names[i]);
      refuse_tests(name, rows, n, why);
    }
  free(filter.copy);
  return suite;
}

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
