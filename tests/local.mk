# Check suites, one binary per module, run by automake's parallel harness through its TAP driver.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
AM_TESTS_ENVIRONMENT = CK_TAP_LOG_FILE_NAME=-; export CK_TAP_LOG_FILE_NAME;

TEST_CPPFLAGS = $(AM_CPPFLAGS) -UUVA_BUILDING
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LDADD = libuvactor.la $(UV_LIBS) $(MSGPACK_LIBS) $(CHECK_LIBS)

EXTRA_DIST += tests/check_main.h

if HAVE_CHECK
check_PROGRAMS += tests/test_msg
TESTS += tests/test_msg
endif

tests_test_msg_SOURCES = tests/test_msg.c
tests_test_msg_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_msg_CFLAGS = $(TEST_CFLAGS)
tests_test_msg_LDADD = $(TEST_LDADD)
