/* Fault injection (configure --enable-fault-injection): a countdown over every fault point the library
 * passes, from any thread; or the first pass of one named site. Threads pass the points of one run in an
 * order that changes from run to run, so a countdown may never land on a site that only a thread racing
 * the others reaches; the sites passed are kept (by their literal, one per site) so that a walk can fail
 * each of those by name too. */
#include <stdatomic.h>
#include <string.h>

#include "common/alloc.h"

#define MAX_SEEN 256

static atomic_ulong countdown; /* points left until the one that fails; 0: none */
static atomic_ulong passed;
static _Atomic(const char *) failed_site;
static _Atomic(const char *) target_site;    /* the site whose next pass fails, or NULL */
static _Atomic(const char *) seen[MAX_SEEN]; /* distinct sites passed, in the order first passed */

static void note_seen(const char *site) {
  const char *cur;
  int i;

  for (i = 0; i < MAX_SEEN; i++) {
    cur = atomic_load(&seen[i]);
    if (cur == NULL && atomic_compare_exchange_strong(&seen[i], &cur, site))
      return;
    if (cur == site)
      return;
  }
}

int uva_fault_point(const char *site) {
  unsigned long left;
  const char *target;

  atomic_fetch_add(&passed, 1);
  note_seen(site);
  target = atomic_load(&target_site);
  if (target != NULL && strcmp(target, site) == 0 &&
      atomic_compare_exchange_strong(&target_site, &target, NULL)) {
    atomic_store(&failed_site, site);
    return 1;
  }
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
  atomic_store(&target_site, NULL);
  atomic_store(&passed, 0);
  atomic_store(&failed_site, NULL);
  atomic_store(&countdown, nth);
}

void uva_fault_inject_site(const char *site) {
  uva_fault_inject(0);
  atomic_store(&target_site, site);
}

const char *uva_fault_seen(unsigned int i) {
  return i < MAX_SEEN ? atomic_load(&seen[i]) : NULL;
}

unsigned long uva_fault_points(void) {
  return atomic_load(&passed);
}

const char *uva_fault_site(void) {
  return atomic_load(&failed_site);
}
