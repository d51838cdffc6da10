/* The stress tests' randomness: a xorshift64* generator per thread, seeded from the run's printed seed, so a
 * failing run's choices can be replayed (scheduling still varies). */
#ifndef UVA_TESTS_RANDOM_H
#define UVA_TESTS_RANDOM_H

#include <stdint.h>

static inline uint64_t next_random(uint64_t *state) {
  uint64_t x = *state;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* True with probability parts/10000. */
static inline int chance(uint64_t *rng, unsigned int parts) {
  return next_random(rng) % 10000 < parts;
}

#endif /* UVA_TESTS_RANDOM_H */
