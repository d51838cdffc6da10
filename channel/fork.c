/* fork(): what a child inherits of ports, loops and actors belongs to its parent.
 *
 * A child has copies of every queue and loop and shares every descriptor: a child that read a loop's wakeup
 * would take the parent's, and one that posted would queue into a copy nobody reads. So each pair of ends
 * and each loop records the process generation it was made in, a fork makes a new generation in the child,
 * and the child's calls on what it inherited fail with UVA_EFORKED; the inherited loops' callbacks touch
 * nothing. */
#include <pthread.h>

#include "channel/end.h"

unsigned int uva__fork_generation;

static void new_generation(void) {
  uva__fork_generation++;
}

UVA__AFTER_FORK(new_generation)
