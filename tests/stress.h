/* What the stress tests share: their randomness (random.h), a check for calls that cannot fail, and their
 * knobs from the environment. */
#ifndef UVA_TESTS_STRESS_H
#define UVA_TESTS_STRESS_H

#include <stdio.h>
#include <stdlib.h>

#include "random.h"
#include "uvactor.h"

/* For calls that cannot fail in a stress program (allocation aside, which the run cannot survive anyway). */
#define MUST(call)                                                                         \
  do {                                                                                     \
    int err_ = (call);                                                                     \
    if (err_ != 0) {                                                                       \
      fprintf(stderr, "# %s:%d: %s: %s\n", __FILE__, __LINE__, #call, uva_err_name(err_)); \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

/* The number in the environment variable name (UVA_STRESS_SECONDS, UVA_STRESS_SEED...), or fallback. */
static inline double env_number(const char *name, double fallback) {
  const char *value = getenv(name);

  return value != NULL && *value != '\0' ? strtod(value, NULL) : fallback;
}

#endif /* UVA_TESTS_STRESS_H */
