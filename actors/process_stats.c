/* Process-wide counts (uvactor/stats.h): the table of actors and the list of ends, each under its own lock,
 * so that nothing is counted on the way of a post or a spawn that is not counted there already. */
#include <string.h>

#include "actors/actor.h"
#include "common/spin.h"

int uva_process_stats(uva_process_stats_t *stats) {
  uva__ends_total_t ends;

  if (stats == NULL)
    return UV_EINVAL;
  memset(stats, 0, sizeof(*stats));
  stats->actors = uva__record_alive();
  uva__ends_total(&ends);
  stats->ports = ends.ports;
  stats->members = ends.members;
  stats->queued = ends.queued;
  stats->queued_bytes = ends.queued_bytes;
  stats->spin_ns = uva__spun_ns();
  return 0;
}
