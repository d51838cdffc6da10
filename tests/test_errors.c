/* serialize/errors.c and the version: uva_strerror() and uva_err_name() for uvactor's codes and libuv's,
 * and uva_version() against the header's numbers. One test per rule of include/uvactor/common.h. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "uvactor.h"

/* ---- errors and version -------------------------------------------------------------------------- */

static const struct {
  int code;
  const char *name;
} uva_codes[] = {
    {UVA_ETRUNC, "UVA_ETRUNC"},     {UVA_EBADBYTE, "UVA_EBADBYTE"}, {UVA_ETRAILING, "UVA_ETRAILING"},
    {UVA_EDEPTH, "UVA_EDEPTH"},     {UVA_ECOUNT, "UVA_ECOUNT"},     {UVA_EBADEXT, "UVA_EBADEXT"},
    {UVA_EOBJECTS, "UVA_EOBJECTS"},
};
#define N_UVA_CODES (sizeof(uva_codes) / sizeof(uva_codes[0]))

START_TEST(test_strerror_uva_codes) {
  const char *unknown = uva_strerror(-12345);
  size_t i, j;

  for (i = 0; i < N_UVA_CODES; i++) {
    const char *text = uva_strerror(uva_codes[i].code);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_gt(strlen(text), 0);
    ck_assert_str_ne(text, unknown);
    for (j = 0; j < i; j++)
      ck_assert_str_ne(text, uva_strerror(uva_codes[j].code));
  }
}
END_TEST

START_TEST(test_err_name_uva_codes) {
  size_t i;

  for (i = 0; i < N_UVA_CODES; i++)
    ck_assert_str_eq(uva_err_name(uva_codes[i].code), uva_codes[i].name);
}
END_TEST

/* The UVA_E* values never collide with libuv's. */
START_TEST(test_uva_codes_distinct_from_libuv) {
  size_t i;

#define UV_CODE_CHECK(name, text) ck_assert_int_ne(uva_codes[i].code, UV_##name);
  for (i = 0; i < N_UVA_CODES; i++) {
    UV_ERRNO_MAP(UV_CODE_CHECK)
  }
#undef UV_CODE_CHECK
}
END_TEST

START_TEST(test_libuv_codes) {
  ck_assert_str_eq(uva_err_name(UV_EPIPE), "EPIPE");
  ck_assert_str_eq(uva_err_name(UV_EINVAL), "EINVAL");
  ck_assert_str_eq(uva_err_name(UV_E2BIG), "E2BIG");
  ck_assert_str_eq(uva_strerror(UV_EPIPE), uv_strerror(UV_EPIPE));
  ck_assert_str_eq(uva_strerror(UV_ENOMEM), uv_strerror(UV_ENOMEM));
}
END_TEST

/* An unknown code gets a static text: the same pointer every time, nothing allocated to leak. */
START_TEST(test_unknown_code) {
  const char *text = uva_strerror(-12345), *name = uva_err_name(-12345);

  ck_assert_ptr_nonnull(text);
  ck_assert_uint_gt(strlen(text), 0);
  ck_assert_ptr_eq(uva_strerror(-12345), text);
  ck_assert_ptr_eq(uva_strerror(-54321), text);
  ck_assert_ptr_nonnull(name);
  ck_assert_uint_gt(strlen(name), 0);
  ck_assert_ptr_eq(uva_err_name(-12345), name);
}
END_TEST

START_TEST(test_version) {
  char want[32];

  ck_assert_uint_eq(uva_version(), UVA_VERSION_HEX);
  ck_assert_uint_eq(uva_version() >> 16, UVA_VERSION_MAJOR);
  ck_assert_uint_eq(uva_version() >> 8 & 0xff, UVA_VERSION_MINOR);
  ck_assert_uint_eq(uva_version() & 0xff, UVA_VERSION_PATCH);
  snprintf(want, sizeof(want), "%d.%d.%d", UVA_VERSION_MAJOR, UVA_VERSION_MINOR, UVA_VERSION_PATCH);
  ck_assert_str_eq(uva_version_string(), want);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("errors", 60, NULL, NULL),
      TEST(test_strerror_uva_codes),
      TEST(test_err_name_uva_codes),
      TEST(test_uva_codes_distinct_from_libuv),
      TEST(test_libuv_codes),
      TEST(test_unknown_code),
      TEST(test_version),
  };

  return suite_of_rows("errors", rows, sizeof(rows) / sizeof(rows[0]));
}
