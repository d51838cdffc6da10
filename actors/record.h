/* Internal: the process-wide table of actors by id, and what it keeps of each actor for its monitors.
 *
 * Every actor gets a record at spawn: a new id (a 64-bit counter: never reused) and a place in the table, so
 * that a thread that has only the id can find it (uva_monitor_start()). The record leaves the table when the
 * actor ends, and lives on, counted, while monitors still need its exit code and error text: the table holds
 * the actors alive, the records the monitors not yet told, nothing else. One lock guards the table and every
 * record's monitor list; nothing else is locked under it but the monitors' trigger ports, which take their
 * own end locks (never the other way round). */
#ifndef UVA_ACTORS_RECORD_H
#define UVA_ACTORS_RECORD_H

#include "uvactor.h"

typedef struct uva__record_s {
  uint64_t id;
  unsigned int refs;          /* [lock] the actor until it ends, and each monitor that holds it */
  unsigned int generation;    /* the process generation it was made in: a forked child does not watch it */
  int ended;                  /* [lock] */
  int exit_code;              /* written before ended is set; read after */
  int failed;                 /* [the actor's thread] uva_self_fail() gave its text (or tried to) */
  int proxy;                  /* an actor proxy's: not an actor of this process */
  char *error;                /* the text of the first failure, or NULL; read after ended */
  uva_monitor_t *monitors;    /* [lock] the monitors waiting for the end */
  struct uva__record_s *next; /* [lock] in its bucket */
} uva__record_t;

/* A new record with the next id, in the table: the actor's own reference. A proxy's (an actor that runs
 * elsewhere: supervise.h) is not counted among the actors alive here. UV_ENOMEM. */
int uva__record_new(uva__record_t **out, int proxy);

/* The actor failed with text (its first failure counts): kept for the monitors. On the actor's thread. */
void uva__record_fail(uva__record_t *rec, const char *text, size_t len);

/* The actor ended with exit_code: out of the table, its monitors told (their trigger ports closed), the
 * actor's reference dropped. A spawn that failed ends its record with UVA_EXIT_NOPROC. */
void uva__record_end(uva__record_t *rec, int exit_code);

/* Monitors. The record of a live actor with id, referenced for a monitor and with mon on its list, or NULL
 * (no such actor, or it ended): then nothing changed. */
uva__record_t *uva__record_watch(uint64_t id, uva_monitor_t *mon);

/* Takes mon off rec's list if it is still there (the actor has not ended): 1 if it was (the caller closes
 * its trigger), 0 if not (the record closed it). */
int uva__record_unwatch(uva__record_t *rec, uva_monitor_t *mon);

/* Drops a monitor's reference; the last one frees the record. */
void uva__record_unref(uva__record_t *rec);

/* Actors in the table: spawned in this process generation and not ended (uva_process_stats()). */
uint64_t uva__record_alive(void);

#endif /* UVA_ACTORS_RECORD_H */
