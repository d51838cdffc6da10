/* Fault injection (configure --enable-fault-injection): a countdown over every fault point the library
 * passes, from any thread. */
#include <stdatomic.h>

#include "common/alloc.h"

static atomic_ulong countdown; /* points left until the one that fails; 0: none */
static atomic_ulong passed;
static _Atomic(const char *) failed_site;

int uva_fault_point(const char *site) {
  unsigned long left;

  atomic_fetch_add(&passed, 1);
  left = atomic_load(&countdown);
  while (left != 0) {
    if (atomic_compare_exchange_weak(&countdown, &left, left - 1)) {
      if (left != 1)
        return 0;
      atomic_store(&failed_site, site);
      return 1;
    }
  }
  return 0;
}

void uva_fault_inject(unsigned long nth) {
  atomic_store(&countdown, 0);
  atomic_store(&passed, 0);
  atomic_store(&failed_site, NULL);
  atomic_store(&countdown, nth);
}

unsigned long uva_fault_points(void) {
  return atomic_load(&passed);
}

const char *uva_fault_site(void) {
  return atomic_load(&failed_site);
}
