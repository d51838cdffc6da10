/* One wakeup source per loop, shared by every end started on it.
 *
 * An end with something to deliver goes on its loop's ready list. A post wakes the loop only when it finds
 * the list empty and the loop asleep: the loop says it is going to sleep in a prepare callback, just before
 * libuv blocks in epoll, and a busy loop takes no wakeups at all; one wakeup delivers many messages.
 *
 * The wakeup is the eventfd (a pipe where there is none) that uv_loop_init() makes for the loop's uv_async_t
 * handles (its threadpool's among them), written here directly rather than through uv_async_send(): libuv
 * 1.44's uv_async_send makes the receiving thread spin and yield while the sender is inside the call, which
 * costs tens of microseconds per wakeup when both share a CPU. A write wakes the loop's poll phase, where
 * libuv reads the descriptor (and finds none of its handles pending); a check handle, right after that
 * phase, delivers. So the wakeup costs no descriptor: an actor holds only the four every libuv loop has
 * (docs/actors.md), and the process can have a fifth more actors than with an eventfd of uvactor's own.
 *
 * Sleeping, without a lost wakeup: the loop stores sleeping = 1, then looks at the list under the lock; a
 * post appends under the lock, then reads sleeping. The lock orders the two, so either the loop sees the
 * message or the post sees sleeping and writes the eventfd. The loop's own thread never writes it: it is
 * not blocked, and its idle handle keeps the next poll from blocking (awake_on_own_thread()).
 *
 * Waking after the locks: the eventfd is written after the poster has let go of the end's lock, never under
 * it. The woken loop's first act is to take that lock (end.c's next_step()): a poster still inside write()
 * with it held would make the loop sleep on the lock, and itself pay a futex wake on the way out, on every
 * wakeup. But once the end's lock is let go, the end may stop or close and the loop may be torn down (its
 * last end detached, then its uv_loop_t closed with the descriptor, even reused by then). So a waker counts
 * itself in the loop's wakers while the end's lock still keeps the loop attached (uva__loop_schedule()
 * returns the loop it must wake), writes after the unlock, and leaves (uva__loop_wake()). The teardown comes
 * after the last end detached, under that end's lock, so no new waker can start; it waits out the ones inside
 * (each is one write() from leaving) before its handles' close ends, which the uv_loop_t's close waits for.
 * The rule: every caller of uva__loop_schedule() wakes what it returned as soon as it has let go of the end's
 * lock. A broadcast post still wakes its members' loops under its group's lock: their delivery does not take
 * it (a member that frees room a poster asked for takes it after its own end's lock), so what the write costs
 * there falls on the group's other posters only.
 *
 * Fairness: one turn of the loop delivers one round of the ready list, and each end in it at most 1000
 * messages, fewer if their callbacks have taken a millisecond (end.c); what remains waits for the next turn,
 * so a flooded port cannot keep the loop from its timers, its I/O or its other ports. An end delivers one
 * batch a round, what its queue held when the round came to it (end.c's next_step() says why). Node's share,
 * max(queue length, 1000), grows with the flood: a port 2 M messages behind kept a timer waiting 1.4 s.
 *
 * Spinning: a loop whose thread has just posted through one of its ports to another loop expects an answer
 * (port.c's note_posted()), so the prepare callback first watches the list for as long as the longest window
 * its started ends ask (UVA_SPIN_DEFAULT_US unless uva_port_set_spin() says otherwise). With a core each, the
 * reply then arrives without any system call. A callback that answered a call (call.c) counts as a post: a
 * callee's next question is as likely to come soon as a caller's answer. A loop that only receives never
 * spins: it sleeps and wakes to a batch. A window in which something came keeps the loop awake for another;
 * windows that keep missing back off. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "channel/end.h"
#include "common/guard.h"
#include "common/spin.h"

/* The fields of a turn are laid out for a loop whose lines have all left the cache since its last turn (an
 * actor in a ring of hundreds, woken once per lap): every line a turn touches costs a miss, and most wait
 * for the one before. So what a poster touches is on the first line, what the loop's thread touches on
 * every turn on the second, and each handle sits so that what libuv reads of it on a turn (its callback and
 * its queue link, at its end) starts a line, on which the turn's counters follow; the rest is cold. */
#define HANDLE_LEAD(type, field) \
  ((UVA__CACHE_LINE - offsetof(type, field) % UVA__CACHE_LINE) % UVA__CACHE_LINE)

struct uva__loop_s {
  uv_mutex_t lock;       /* a poster's line: the lock, the list, and the two flags it reads or writes */
  uva__link_t ready;     /* [lock] ends with something to deliver */
  atomic_int sleeping;   /* the loop may be blocked in epoll: a post must write the eventfd */
  atomic_int ready_hint; /* ready is not empty; read without the lock while spinning */

  uv_loop_t *uvloop;
  unsigned int wakers;         /* posters between uva__loop_schedule() and uva__loop_wake(): the descriptor
                                  stays open until they have written (common/guard.h's in-flight count) */
  int poked;                   /* [lock] uva__loop_poke() asked for a call of on_poke */
  uva__link_t delivering;      /* [thread] ends taken from ready, in turn */
  uva__end_t *current;         /* [thread] the end being delivered, NULL once it leaves the loop */
  uint64_t spin_ns;            /* [thread] how long to watch for messages before sleeping: the longest any
                                  started end asks for */
  uva__spin_backoff_t backoff; /* [thread] spin windows that keep missing back off */
  unsigned int generation;     /* the process generation it was made in: a forked child's copy does nothing */
  int posted;                  /* [thread] the loop's thread posted since its last turn: an answer may come */

  uv_thread_t thread;       /* the thread that runs uvloop */
  unsigned int spin_askers; /* [thread] started ends that ask for spin_ns: only when the last of them
                               leaves is the list walked for the next longest */
  int handles;              /* [thread] check, prepare and idle handles not yet closed */
  int taken;                /* [thread] the program closed one of them: uva__loop_reap() frees the loop */
  void (*on_poke)(void *);  /* [thread] the hold's (uva__loop_hold()), or NULL */
  void *poke_arg;           /* [thread] */
  uva__link_t ends;         /* [thread] ends started on this loop */
  unsigned int nends;       /* [thread] ends started on this loop, and the hold if there is one */
  unsigned int nrefs;       /* [thread] of those, ends that keep uvloop alive */
  uva__loop_t *next;        /* [registry_lock] */

  _Alignas(UVA__CACHE_LINE) char check_lead[HANDLE_LEAD(uv_check_t, check_cb)];
  uv_check_t check;   /* runs right after the poll phase: delivers what a wakeup came for */
  int turn_delivered; /* [thread] this loop turn has delivered its round */
  int turn_yielded;   /* [thread] an end used its share of this turn: the turn delivers no more */
  unsigned int turn;  /* [thread] counts the turns of uvloop */

  _Alignas(UVA__CACHE_LINE) char prepare_lead[HANDLE_LEAD(uv_prepare_t, prepare_cb)];
  uv_prepare_t prepare; /* runs right before the loop may block: decides whether it sleeps */
  uv_idle_t awake;      /* started for one turn: libuv polls without blocking, the loop stays awake */
};

/* Loops that have ends, found by their uv_loop_t when an end starts. */
static uv_mutex_t registry_lock = UVA__MUTEX_INITIALIZER;
static uva__loop_t *registry; /* [registry_lock] */
/* Closed loops whose handles the program closed, until uva__loop_reap(). */
static uva__loop_t *taken; /* [registry_lock] */

/* The child keeps the parent's loops on the registry, so that a port started on one of them is told
 * UVA_EFORKED rather than adding a wakeup to the epoll set the two processes share. */
static void registry_after_fork(void) {
  UVA__MUTEX_RESET(registry_lock);
}

UVA__AFTER_FORK(registry_after_fork)

#define READY_END_OF(link) uva__container_of(link, uva__end_t, ready)
#define ATTACHED_END_OF(link) uva__container_of(link, uva__end_t, attached)

/* Writes the loop's async descriptor as libuv's uv__async_send() does (src/unix/async.c): an eventfd where
 * async_wfd is -1, 8 bytes; else a pipe's write end, one byte. A lost wakeup is a hang, so an error that
 * cannot happen stops the process, as libuv does there, rather than pass unnoticed. */
static void wakeup_send(uva__loop_t *loop) {
  static const uint64_t one = 1;
  int fd = loop->uvloop->async_wfd;
  size_t len = 1;
  ssize_t r;

  if (fd == -1) {
    fd = loop->uvloop->async_io_watcher.fd;
    len = sizeof(one);
  }
  do
    r = write(fd, &one, len);
  while (r < 0 && errno == EINTR);
  /* A full pipe (EAGAIN) already holds a wakeup, which is all a write is for. */
  if (r < 0 && errno != EAGAIN)
    abort();
}

/* The loop this thread delivers for, while it does (uva__loop_note_answer()). */
static __thread uva__loop_t *delivering_loop __attribute__((tls_model("initial-exec")));

/* lock held. Whether the loop has something to do: ends to deliver, or a poke. */
static int pending_locked(uva__loop_t *loop) {
  return !uva__list_empty(&loop->ready) || loop->poked;
}

/* Answers a poke, then delivers every end on the ready list, in turn. */
static void deliver_ready(uva__loop_t *loop) {
  uva__loop_t *outer = delivering_loop;
  uva__end_t *end;
  int poked;

  uv_mutex_lock(&loop->lock);
  uva__list_move(&loop->ready, &loop->delivering);
  poked = loop->poked;
  loop->poked = 0;
  atomic_store_explicit(&loop->ready_hint, 0, memory_order_relaxed);
  uv_mutex_unlock(&loop->lock);
  if (poked && loop->on_poke != NULL)
    loop->on_poke(loop->poke_arg);
  /* An end scheduled while these are delivered goes to ready, for the next turn: that is the fairness rule
   * that keeps one flooded port from starving the loop. */
  delivering_loop = loop;
  while (!uva__list_empty(&loop->delivering)) {
    end = READY_END_OF(loop->delivering.next);
    uv_mutex_lock(&loop->lock);
    uva__list_remove(&end->ready);
    uv_mutex_unlock(&loop->lock);
    loop->current = end;
    uva__end_deliver(loop, end);
    loop->current = NULL;
  }
  delivering_loop = outer;
}

/* Whether ready has ends, as far as a look without the lock can tell. */
static int ready_hinted(const void *arg) {
  const uva__loop_t *loop = arg;

  return atomic_load_explicit(&loop->ready_hint, memory_order_relaxed);
}

/* After the poll phase, in which libuv read the wakeup: a turn that has not delivered yet delivers what came
 * (ready_hint may miss a post that has just come: the prepare callback looks under the lock before the loop
 * sleeps, so it waits one turn at most). */
static void on_check(uv_check_t *check) {
  uva__loop_t *loop = uva__container_of(check, uva__loop_t, check);

  if (loop->generation != uva__fork_generation)
    return; /* a child's copy: the wakeup is its parent's to read */
  if (loop->turn_delivered || !ready_hinted(loop))
    return;
  atomic_store(&loop->sleeping, 0);
  deliver_ready(loop);
  loop->turn_delivered = 1;
}

static int ready_empty(uva__loop_t *loop) {
  int empty;

  uv_mutex_lock(&loop->lock);
  empty = !pending_locked(loop);
  uv_mutex_unlock(&loop->lock);
  return empty;
}

/* When the prepare callback may watch for messages until: now + spin_ns, no later than the loop's next
 * timer, or 0 for not at all (no end asks for it, nothing was posted from this loop since its last turn, so
 * no answer is due: a loop that only receives sleeps and wakes to a batch; the loop has other work due now;
 * or it is backing off). */
static uint64_t spin_deadline(uva__loop_t *loop) {
  int posted = loop->posted;
  int timeout_ms;
  uint64_t ns;

  loop->posted = 0;
  if (loop->spin_ns == 0 || !posted || loop->uvloop->stop_flag ||
      (timeout_ms = uv_backend_timeout(loop->uvloop)) == 0)
    return 0;
  if (uva__spin_backoff_skip(&loop->backoff)) /* its spins keep missing (common/spin.h) */
    return 0;
  ns = loop->spin_ns;
  if (timeout_ms > 0 && (uint64_t)timeout_ms * 1000000 < ns)
    ns = (uint64_t)timeout_ms * 1000000;
  return uv_hrtime() + ns;
}

static void on_awake(uv_idle_t *idle) {
  uv_idle_stop(idle);
}

/* This turn's poll must not block: libuv polls its I/O without waiting and the loop turns again. Not if the
 * deliveries closed the loop's last end, and with it these handles: libuv would keep a closed idle handle
 * started, in memory freed by then. */
static void stay_awake(uva__loop_t *loop) {
  if (!uv_is_closing((uv_handle_t *)&loop->awake))
    uv_idle_start(&loop->awake, on_awake);
}

/* Counts a spin window that has closed: delivered is whether anything came within it. A window that paid
 * keeps the loop awake, and the next turn opens a new window. */
static void spin_done(uva__loop_t *loop, uint64_t deadline, int delivered) {
  if (deadline == 0)
    return;
  uva__spin_backoff_done(&loop->backoff, delivered);
  if (delivered)
    stay_awake(loop);
}

/* Whether a spin window is over before its deadline: something came, or a callback stopped the loop
 * (uv_stop(), which libuv looks at after this turn's poll). */
static int spin_over(const void *arg) {
  const uva__loop_t *loop = arg;

  return ready_hinted(loop) || loop->uvloop->stop_flag;
}

/* Counted in the actor's account (common/spin.h), not in the process's spin_ns: that is for spins outside
 * loops. The loop's clock is read again after: libuv works out how long its poll may block from the time
 * it read at the turn's start, which the window has made old, and a timer the window ended at would then
 * wait as long again. */
static void spin_until(uva__loop_t *loop, uint64_t deadline) {
  uint64_t spun;

  if (deadline == 0 || spin_over(loop))
    return;
  (void)uva__spin_watch(deadline, spin_over, loop, &spun);
  uv_update_time(loop->uvloop);
}

/* Says the loop is going to sleep; true if nothing is waiting, so it may. */
static int go_to_sleep(uva__loop_t *loop) {
  atomic_store(&loop->sleeping, 1);
  if (ready_empty(loop))
    return 1;
  atomic_store(&loop->sleeping, 0);
  return 0;
}

/* The queue link of the check or prepare handle libuv runs first: private fields, whose type libuv 1.47
 * changed. */
#if UV_VERSION_HEX < 0x012f00
#define FIRST_HANDLE(uvloop, kind) ((void *)(uvloop)->kind##_handles[0])
#else
#define FIRST_HANDLE(uvloop, kind) ((void *)(uvloop)->kind##_handles.next)
#endif

/* Right before libuv may block. What is on the ready list now may have been posted without a wakeup (the
 * loop was awake), so it is delivered here: one round per turn, like the check callback's, unless a spin
 * window is open, within which every message is delivered as it comes. A turn that delivered here does not
 * block in its poll: every run mode sees the callbacks as this turn's work. */
static void on_prepare(uv_prepare_t *prepare) {
  uva__loop_t *loop = uva__container_of(prepare, uva__loop_t, prepare);
  uint64_t deadline;

  if (loop->generation != uva__fork_generation)
    return; /* a child's copy: its queues are the parent's to deliver */
  /* libuv runs the most recently started check and prepare handles first: restarted when the program has
   * started one since, these run before the program's, which then follow what they deliver within the
   * turn: its check callbacks what came with the poll phase's I/O, its prepare callbacks what is delivered
   * here before the loop blocks (a remote transport's pump sends in this turn what its ends were given).
   * Not restarted when first already (libuv keeps their order from turn to turn): a restart reads the
   * handle's cold head and the loop's count of active handles. The prepare handle's restart counts from
   * the next turn on. */
  if (FIRST_HANDLE(loop->uvloop, check) != (void *)&loop->check.queue) {
    uv_check_stop(&loop->check);
    uv_check_start(&loop->check, on_check);
  }
  if (FIRST_HANDLE(loop->uvloop, prepare) != (void *)&loop->prepare.queue) {
    uv_prepare_stop(prepare);
    uv_prepare_start(prepare, on_prepare);
  }
  deadline = spin_deadline(loop);
  loop->turn_delivered = 0;
  loop->turn_yielded = 0;
  loop->turn++;
  for (;;) {
    spin_until(loop, deadline);
    if (deadline != 0 && loop->turn_delivered && ready_empty(loop)) {
      spin_done(loop, deadline, 1);
      return;
    }
    if (deadline == 0 && loop->turn_delivered) {
      /* Callbacks ran, so this turn's poll must not block: uv_run(UV_RUN_ONCE) returns after it, as after
       * any callback, and what came meanwhile is delivered on the next turn. */
      stay_awake(loop);
      return;
    }
    if (go_to_sleep(loop)) {
      spin_done(loop, deadline, 0);
      return;
    }
    if (loop->turn_delivered && (loop->turn_yielded || loop->uvloop->stop_flag || uv_hrtime() >= deadline)) {
      /* This turn has had its round: wake the poll phase and leave the rest for the next turn. */
      spin_done(loop, deadline, 1);
      wakeup_send(loop);
      return;
    }
    deliver_ready(loop);
    loop->turn_delivered = 1;
  }
}

/* The last end has left, so no waker can start: wait out those still writing. */
static void loop_free(uva__loop_t *loop) {
  uva__guard_wait(&loop->wakers);
  uv_mutex_destroy(&loop->lock);
  free(loop);
}

static void on_handle_closed(uv_handle_t *handle) {
  uva__loop_t *loop = handle->data;

  if (--loop->handles > 0 || loop->taken)
    return;
  loop_free(loop);
}

/* Closes one of the loop's own handles, unless the program did (a walk that closed every handle it found):
 * libuv then finishes that close with the program's callback, maybe after ours in the same pass, so the
 * loop's memory must outlive the pass: it waits on the taken list for uva__loop_reap(). */
static void close_own(uva__loop_t *loop, uv_handle_t *handle) {
  if (uv_is_closing(handle)) {
    loop->taken = 1;
    loop->handles--;
    return;
  }
  uv_close(handle, on_handle_closed);
}

static void loop_close(uva__loop_t *loop) {
  close_own(loop, (uv_handle_t *)&loop->check);
  close_own(loop, (uv_handle_t *)&loop->prepare);
  close_own(loop, (uv_handle_t *)&loop->awake);
  if (loop->taken) {
    uv_mutex_lock(&registry_lock);
    loop->next = taken;
    taken = loop;
    uv_mutex_unlock(&registry_lock);
  }
}

void uva__loop_reap(uv_loop_t *uvloop) {
  uva__loop_t **p = &taken;
  uva__loop_t *reaped = NULL;
  uva__loop_t *loop;

  uv_mutex_lock(&registry_lock);
  while ((loop = *p) != NULL) {
    if (loop->uvloop == uvloop) {
      *p = loop->next;
      loop->next = reaped;
      reaped = loop;
    } else {
      p = &loop->next;
    }
  }
  uv_mutex_unlock(&registry_lock);
  while ((loop = reaped) != NULL) {
    reaped = loop->next;
    loop_free(loop);
  }
}

static int loop_new(uv_loop_t *uvloop, uva__loop_t **loopp) {
  uva__loop_t *loop;
  int err;

  loop = uva__aligned_alloc(_Alignof(uva__loop_t), sizeof(*loop));
  if (loop == NULL)
    return UV_ENOMEM;
  err = uv_mutex_init(&loop->lock);
  if (err != 0) {
    free(loop);
    return err;
  }
  loop->uvloop = uvloop;
  uv_check_init(uvloop, &loop->check);
  uv_prepare_init(uvloop, &loop->prepare);
  uv_idle_init(uvloop, &loop->awake);
  uv_unref((uv_handle_t *)&loop->awake);
  loop->check.data = loop->prepare.data = loop->awake.data = loop;
  loop->handles = 3;
  loop->taken = 0;
  err = uv_check_start(&loop->check, on_check);
  if (err == 0)
    err = uv_prepare_start(&loop->prepare, on_prepare);
  if (err != 0) {
    /* The handles are initialized, so they close through the loop; on_handle_closed frees the rest. */
    loop_close(loop);
    return err;
  }
  uv_unref((uv_handle_t *)&loop->prepare);
  atomic_init(&loop->sleeping, 1);
  atomic_init(&loop->ready_hint, 0);
  loop->wakers = 0;
  loop->spin_ns = 0;
  loop->spin_askers = 0;
  loop->posted = 0;
  loop->backoff.misses = loop->backoff.skip = 0;
  loop->turn_delivered = 0;
  loop->turn_yielded = 0;
  loop->turn = 1;
  loop->thread = uv_thread_self();
  loop->generation = uva__fork_generation;
  uva__list_init(&loop->ready);
  loop->poked = 0;
  loop->on_poke = NULL;
  loop->poke_arg = NULL;
  uva__list_init(&loop->delivering);
  uva__list_init(&loop->ends);
  loop->current = NULL;
  loop->nends = 0;
  loop->nrefs = 0;
  uv_unref((uv_handle_t *)&loop->check);
  *loopp = loop;
  return 0;
}

/* An end asking for spin_ns joins the loop's ends: the loop spins as long as the longest asks. */
static void spin_join(uva__loop_t *loop, uint64_t spin_ns) {
  if (spin_ns > loop->spin_ns) {
    loop->spin_ns = spin_ns;
    loop->spin_askers = 0;
  }
  if (spin_ns == loop->spin_ns)
    loop->spin_askers++;
}

/* An end asking for spin_ns leaves (the end is off the loop's list already). Closing N ports costs O(N): the
 * list is walked only when the last end asking for the longest window leaves. */
static void spin_leave(uva__loop_t *loop, uint64_t spin_ns) {
  uva__link_t *link;
  uint64_t longest = 0;
  unsigned int askers = 0;
  uint64_t ns;

  assert(spin_ns < loop->spin_ns || (spin_ns == loop->spin_ns && loop->spin_askers > 0));
  if (spin_ns != loop->spin_ns || --loop->spin_askers > 0)
    return;
  uva__list_foreach(link, &loop->ends) {
    ns = ATTACHED_END_OF(link)->spin_ns;
    if (ns > longest) {
      longest = ns;
      askers = 0;
    }
    if (ns == longest)
      askers++;
  }
  loop->spin_ns = longest;
  loop->spin_askers = askers;
}

/* The loop uvloop has, if any. */
static uva__loop_t *loop_find(uv_loop_t *uvloop) {
  uva__loop_t *loop;

  for (loop = registry; loop != NULL; loop = loop->next)
    if (loop->uvloop == uvloop)
      break;
  return loop;
}

/* The loop for uvloop, run by the calling thread: the one it has, or a new one. */
static int loop_get(uv_loop_t *uvloop, uva__loop_t **loopp) {
  uv_thread_t self = uv_thread_self();
  uva__loop_t *loop;
  int err = 0;

  uv_mutex_lock(&registry_lock);
  loop = loop_find(uvloop);
  if (loop != NULL && loop->generation != uva__fork_generation) {
    err = UVA_EFORKED;
  } else if (loop != NULL && !uv_thread_equal(&loop->thread, &self)) {
    err = UV_EPERM;
  } else if (loop == NULL) {
    err = loop_new(uvloop, &loop);
    if (err == 0) {
      loop->next = registry;
      registry = loop;
    }
  }
  uv_mutex_unlock(&registry_lock);
  if (err == 0)
    *loopp = loop;
  return err;
}

/* An end or the hold leaves; the last to leave closes the loop. */
static void loop_leave(uva__loop_t *loop) {
  uva__loop_t **p;

  assert(loop->nends > 0);
  if (--loop->nends > 0)
    return;
  /* Nothing can schedule on this loop or poke it any more, so the wakeup goes. */
  uv_mutex_lock(&registry_lock);
  for (p = &registry; *p != loop; p = &(*p)->next)
    ;
  *p = loop->next;
  uv_mutex_unlock(&registry_lock);
  loop_close(loop);
}

int uva__loop_attach(uv_loop_t *uvloop, uva__end_t *end, uva__loop_t **loopp) {
  uva__loop_t *loop;
  int err;

  /* An ending actor's thread starts nothing: its teardown would miss it. */
  if (uva__cancel_thread_ending())
    return UV_ECANCELED;
  err = loop_get(uvloop, &loop);
  if (err != 0)
    return err;
  loop->nends++;
  uva__list_insert_tail(&loop->ends, &end->attached);
  spin_join(loop, end->spin_ns);
  *loopp = loop;
  return 0;
}

void uva__loop_detach(uva__loop_t *loop, uva__end_t *end) {
  uva__list_remove(&end->attached);
  spin_leave(loop, end->spin_ns);
  loop_leave(loop);
}

int uva__loop_hold(uv_loop_t *uvloop, void (*on_poke)(void *arg), void *arg, uva__loop_t **loopp) {
  uva__loop_t *loop;
  int err;

  err = loop_get(uvloop, &loop);
  if (err != 0)
    return err;
  assert(loop->on_poke == NULL);
  loop->nends++;
  loop->on_poke = on_poke;
  loop->poke_arg = arg;
  *loopp = loop;
  return 0;
}

void uva__loop_release(uva__loop_t *loop) {
  loop->on_poke = NULL;
  loop_leave(loop);
}

/* A post from the loop's own thread needs no wakeup: that thread is not blocked in its poll, though sleeping
 * may still say so (it is cleared at the check phase, after the I/O callbacks, which post: a transport's
 * socket read, a program's stream callback). The idle handle keeps this turn's poll, or the next one's, from
 * blocking, and the check or prepare callback delivers: no write, no second turn to read it. */
static int awake_on_own_thread(uva__loop_t *loop) {
  uv_thread_t self = uv_thread_self();

  if (!uv_thread_equal(&loop->thread, &self))
    return 0;
  stay_awake(loop);
  return 1;
}

void uva__loop_poke(uva__loop_t *loop) {
  int was_idle;

  uv_mutex_lock(&loop->lock);
  was_idle = !pending_locked(loop);
  loop->poked = 1;
  atomic_store_explicit(&loop->ready_hint, 1, memory_order_relaxed);
  uv_mutex_unlock(&loop->lock);
  /* As a post's wakeup, and with the same order against go_to_sleep(); no waker count: the holder keeps the
   * hold, and so the loop, until the poke has returned. */
  if (was_idle && atomic_load(&loop->sleeping) && !awake_on_own_thread(loop))
    wakeup_send(loop);
}

uva__loop_t *uva__loop_schedule(uva__loop_t *loop, uva__end_t *end) {
  int was_empty;

  uv_mutex_lock(&loop->lock);
  was_empty = !pending_locked(loop);
  uva__list_insert_tail(&loop->ready, &end->ready);
  atomic_store_explicit(&loop->ready_hint, 1, memory_order_relaxed);
  uv_mutex_unlock(&loop->lock);
  if (!was_empty || !atomic_load(&loop->sleeping) || awake_on_own_thread(loop))
    return NULL;
  /* Counted while end->lock keeps the loop attached: the teardown waits for uva__loop_wake(). */
  uva__guard_join(&loop->wakers);
  return loop;
}

void uva__loop_wake(uva__loop_t *loop) {
  if (loop == NULL)
    return;
  wakeup_send(loop);
  uva__guard_leave(&loop->wakers);
}

void uva__loop_unschedule(uva__loop_t *loop, uva__end_t *end) {
  uv_mutex_lock(&loop->lock);
  uva__list_remove(&end->ready);
  uv_mutex_unlock(&loop->lock);
}

void uva__loop_note_post(uva__loop_t *loop) {
  loop->posted = 1;
}

void uva__loop_note_answer(void) {
  if (delivering_loop != NULL)
    delivering_loop->posted = 1;
}

void uva__loop_set_spin(uva__loop_t *loop, uva__end_t *end, uint64_t spin_ns) {
  /* Off the list while it changes, so the walk for the next longest does not count it. */
  assert(loop->nends > 0);
  uva__list_remove(&end->attached);
  spin_leave(loop, end->spin_ns);
  end->spin_ns = spin_ns;
  uva__list_insert_tail(&loop->ends, &end->attached);
  spin_join(loop, spin_ns);
}

void uva__loop_ref(uva__loop_t *loop, int delta) {
  assert(delta > 0 || loop->nrefs > 0);
  loop->nrefs += delta;
  if (loop->nrefs > 0)
    uv_ref((uv_handle_t *)&loop->check);
  else
    uv_unref((uv_handle_t *)&loop->check);
}

unsigned int uva__loop_turn(uva__loop_t *loop) {
  return loop->turn;
}

void uva__loop_note_yield(uva__loop_t *loop) {
  loop->turn_yielded = 1;
}

int uva__loop_is_delivering(uva__loop_t *loop, uva__end_t *end) {
  return loop->current == end;
}

void uva__loop_stop_delivering(uva__loop_t *loop, uva__end_t *end) {
  if (loop->current == end)
    loop->current = NULL;
}

void uva__loop_shutdown(uv_loop_t *uvloop) {
  uva__loop_t *loop;

  uv_mutex_lock(&registry_lock);
  loop = loop_find(uvloop);
  uv_mutex_unlock(&registry_lock);
  if (loop == NULL)
    return;
  /* Each abort detaches one end; the last to leave (an end, or the hold) closes the wakeup, whose memory
   * lives until its close callback, so the list head stays valid to the end of this loop. */
  while (!uva__list_empty(&loop->ends))
    uva__end_abort(loop, ATTACHED_END_OF(loop->ends.next));
}
