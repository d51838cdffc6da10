/* Monitors: a callback on any loop, once, after an actor's end (supervise.h).
 *
 * A monitor is a channel of its own: its signal port is started on the monitoring loop, and its trigger port
 * is closed when the actor ends (by the actor's record, record.c), so the signal's close callback runs on the
 * monitoring loop: the wakeup, the thread hop and the teardown of a monitoring actor are the ports' own. No
 * message is ever posted, so telling a monitor allocates nothing: an actor's end cannot fail to be reported.
 * An id that names no live actor gets its trigger closed at once (UVA_EXIT_NOPROC). */
#include "actors/actor.h"

/* state_: started and waiting; done (its callback ran, or it was stopped); being stopped. */
enum { MONITOR_ACTIVE = 0x75610201, MONITOR_DONE, MONITOR_STOPPING };

#define MONITOR_OF(port) uva__container_of(port, uva_monitor_t, signal_)

static void on_signal_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg); /* nothing posts on the trigger */
}

/* The signal closed: the actor ended (its record closed the trigger), or it never was; or the monitoring
 * loop is being torn down (its actor is ending), or uva_monitor_stop() aborted it. */
static void on_signal_close(uva_port_t *port) {
  uva_monitor_t *mon = MONITOR_OF(port);
  uva__record_t *rec = mon->record_;
  int torn_down;

  if (mon->state_ == MONITOR_STOPPING)
    return; /* uva_monitor_stop() finishes */
  /* Still on the record's list: the actor lives, this loop's teardown closed the signal. */
  torn_down = rec != NULL && uva__record_unwatch(rec, mon);
  if (torn_down)
    uva_port_close(&mon->trigger_);
  mon->state_ = MONITOR_DONE;
  mon->loop = NULL;
  mon->record_ = NULL;
  /* The text lives in the record, which this monitor holds until after the callback; the callback may free
   * or restart the monitor, so nothing of it is touched afterwards. */
  if (!torn_down)
    mon->down_cb_(mon, rec != NULL ? rec->exit_code : UVA_EXIT_NOPROC, rec != NULL ? rec->error : NULL);
  if (rec != NULL)
    uva__record_unref(rec);
}

int uva_monitor_start(uva_monitor_t *mon, uv_loop_t *loop, uint64_t actor_id, uva_monitor_cb down_cb) {
  int err;

  if (mon == NULL || loop == NULL || down_cb == NULL)
    return UV_EINVAL;
  err = uva_channel_init(&mon->signal_, &mon->trigger_);
  if (err != 0)
    return err;
  /* The trigger belongs to the record, not to the thread that made it: no actor's end closes it. */
  uva__port_pin(&mon->trigger_);
  err = uva_port_start(&mon->signal_, loop, on_signal_message, on_signal_close);
  if (err != 0) {
    uva_port_close(&mon->signal_);
    uva_port_close(&mon->trigger_);
    return err;
  }
  mon->type = UVA_MONITOR;
  mon->loop = loop;
  mon->owner_ = uv_thread_self();
  mon->down_cb_ = down_cb;
  mon->flags_ = 0;
  mon->state_ = MONITOR_ACTIVE;
  mon->record_ = uva__record_watch(actor_id, mon);
  if (mon->record_ == NULL)
    uva_port_close(&mon->trigger_); /* noproc: the signal closes on the loop's next turn */
  return 0;
}

int uva_monitor_stop(uva_monitor_t *mon) {
  uva__record_t *rec;

  if (mon == NULL)
    return UV_EINVAL;
  if (mon->state_ == MONITOR_DONE)
    return UV_EALREADY;
  if (mon->state_ != MONITOR_ACTIVE)
    return UV_EINVAL;
  if (uva__port_forked(&mon->signal_))
    return UVA_EFORKED;
  if (!uva__on_thread(&mon->owner_))
    return UV_EPERM;
  rec = mon->record_;
  if (rec != NULL && uva__record_unwatch(rec, mon))
    uva_port_close(&mon->trigger_);
  /* The signal closes now, its close callback included, whatever it had queued: nothing runs after this. */
  mon->state_ = MONITOR_STOPPING;
  uva__port_abort(&mon->signal_);
  mon->state_ = MONITOR_DONE;
  mon->loop = NULL;
  mon->record_ = NULL;
  if (rec != NULL)
    uva__record_unref(rec);
  return 0;
}
