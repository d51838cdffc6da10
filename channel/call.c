/* Calls: request and reply on a port (include/uvactor/call.h).
 *
 * A request is a message with three things beside its body (serialize/message.h): the call's id, its kind,
 * and the way back, a counted reference to the caller's end. So whoever holds the request can answer it,
 * from any thread, after posting it on any number of times; and a request freed unanswered answers itself
 * (UV_ECONNRESET), with its own memory when no other can be had, so that notice can never fail for want of
 * memory.
 *
 * The caller's side lives in its end (uva__calls_t), used only by the end's owner:
 *   - ids: a slot table; an id is a slot's index and its generation, which changes each time the slot is
 *     freed. A reply finds its call in O(1); a reply to a call that completed (timed out, cancelled) finds
 *     a newer generation or an empty slot, and is late: freed and counted.
 *   - deadlines: the timed calls in a min-heap (common/heap.h) by deadline, ties in call order, and one
 *     uv_timer_t per port armed for the first. A call joins and leaves it in O(log n) whatever the mix of
 *     timeouts (a sorted list cost a walk past every later deadline: O(n^2) for calls whose timeouts
 *     decrease or vary). Its room grows with the id table, so a timed call never allocates for it. A
 *     deadline is in the loop's time (uv_now()), as libuv's timers count: reading a precise clock at every
 *     call cost 7 to 30% of the calls a port could make per second in the runs measured (a VM, kvm-clock).
 *   - the due list: calls that completed outside the end's delivery (timed out, cancelled, answered during a
 *     receive). Their callbacks run in the end's delivery (STEP_CALLS, end.c), like every call callback, so
 *     a callback that closes or transfers the port stops what comes next as a message callback would.
 * Pending calls keep their loop alive (a reference on it, as a libuv request is active), and fail with
 * UV_EPIPE when the port's channel closes, before its close callback. */
#include <string.h>

#include "channel/call.h"
#include "channel/endpoint.h"
#include "common/counter.h"
#include "common/heap.h"

/* A call handle's state_. Odd values: a handle never used is none of them. CALL_EXPIRING: pending, its
 * deadline passed, on the expiring list until the end's delivery judges it (calls_judge()). */
enum { CALL_PENDING = 0x75610201, CALL_DUE, CALL_DONE, CALL_EXPIRING };

#define NO_SLOT UINT32_MAX
#define FIRST_SLOTS 8
#define REFS_RESERVED 64
#define NO_DEADLINE UINT64_MAX

typedef struct {
  void *owner;         /* the pending call (a uva_call_t, or waiter_mark), or NULL */
  uint32_t generation; /* changes each time the slot is freed; never 0, so no id is 0 */
  uint32_t next_free;  /* free slots, a list of indexes */
} slot_t;

struct uva__calls_s {
  uva__end_t *end;
  slot_t *slots;
  uint32_t nslots;
  uint32_t free_slot;         /* the first free slot, or NO_SLOT */
  uva__heap_t deadlines;      /* pending timed calls (call->heap_index_), earliest first */
  uva_call_t **handles;       /* the handles of the calls whose callbacks have not run, by address */
  uint32_t nhandles;          /* room in handles: 0, or a power of two at least twice calls_pending */
  uva__link_t due;            /* completed calls whose callbacks are to run, in completion order */
  uva__link_t expiring;       /* calls whose deadline passed, in deadline order, until calls_judge() */
  uv_timer_t *timer;          /* while end is started and has made a call: the deadlines' timer */
  uint64_t armed_for;         /* the deadline the timer is armed for, or NO_DEADLINE */
  uva__loop_t *loop;          /* the loop the pending calls keep alive, or NULL */
  unsigned int refs_reserved; /* references on end's pair taken ahead for requests (request_bind()) */
};

/* The slot owner of a uva_port_call_wait() under way: it takes its reply itself. */
static char waiter_mark;

#define CALL_LINK(call) (&(call)->link_)
#define CALL_OF(link) uva__container_of(link, uva_call_t, link_)

/* ---- the id table -------------------------------------------------------------------------------- */

static uint32_t id_slot(uint64_t id) {
  return (uint32_t)id;
}

static uint32_t id_generation(uint64_t id) {
  return (uint32_t)(id >> 32);
}

static int slots_grow(uva__calls_t *calls) {
  uint32_t n = calls->nslots == 0 ? FIRST_SLOTS : calls->nslots * 2;
  slot_t *slots;
  uint32_t i;

  if (calls->nslots >= NO_SLOT / 2)
    return UV_ENOMEM;
  /* Room in the deadlines for every call the table can hold. */
  if (uva__heap_reserve(&calls->deadlines, n) != 0)
    return UV_ENOMEM;
  slots = uva__realloc(calls->slots, n * sizeof(*slots));
  if (slots == NULL)
    return UV_ENOMEM;
  for (i = calls->nslots; i < n; i++) {
    slots[i].owner = NULL;
    slots[i].generation = 1;
    slots[i].next_free = i + 1 < n ? i + 1 : calls->free_slot;
  }
  calls->free_slot = calls->nslots;
  calls->slots = slots;
  calls->nslots = n;
  return 0;
}

/* A free slot for owner: its id in *id. */
static int slot_take(uva__calls_t *calls, void *owner, uint64_t *id) {
  slot_t *slot;
  uint32_t index;
  int err;

  if (calls->free_slot == NO_SLOT && (err = slots_grow(calls)) != 0)
    return err;
  index = calls->free_slot;
  slot = &calls->slots[index];
  calls->free_slot = slot->next_free;
  slot->owner = owner;
  *id = (uint64_t)slot->generation << 32 | index;
  return 0;
}

/* The owner of id, or NULL if that call is not pending (any more). */
static void *slot_owner(const uva__calls_t *calls, uint64_t id) {
  uint32_t index = id_slot(id);

  if (index >= calls->nslots || calls->slots[index].generation != id_generation(id))
    return NULL;
  return calls->slots[index].owner;
}

static void slot_free(uva__calls_t *calls, uint64_t id) {
  slot_t *slot = &calls->slots[id_slot(id)];

  slot->owner = NULL;
  if (++slot->generation == 0)
    slot->generation = 1;
  slot->next_free = calls->free_slot;
  calls->free_slot = id_slot(id);
}

/* ---- the pending handles ------------------------------------------------------------------------ */

/* The handles of an end's calls whose callbacks have not run, in a set by address (open addressing, linear
 * probing, at most half full), so that uva_port_call() refuses a handle still in use (UV_EBUSY) without
 * reading it: a handle never used may hold anything, and needs no initialization. That is why a flag in the
 * handle cannot do this job. state_ == CALL_PENDING read from a handle never used is a read of memory never
 * written (valgrind and MemorySanitizer report it in every caller that passes a fresh handle), and garbage
 * equal to the flag would refuse a fresh handle with a UV_EBUSY its caller could never clear. Looking the
 * handle's id_ up in the slot table, to confirm the flag, reads the same unwritten memory, and finds no
 * CALL_DUE call: its slot was freed when it completed. Dropping the set would need handles to be
 * initialized (an API change). */

static uint32_t handle_home(const uva__calls_t *calls, const uva_call_t *call) {
  return (uint32_t)(((uint64_t)(uintptr_t)call * 0x9E3779B97F4A7C15ULL) >> 32) & (calls->nhandles - 1);
}

static int handle_pending(const uva__calls_t *calls, const uva_call_t *call) {
  uint32_t i;

  if (calls->nhandles == 0)
    return 0;
  for (i = handle_home(calls, call); calls->handles[i] != NULL; i = (i + 1) & (calls->nhandles - 1))
    if (calls->handles[i] == call)
      return 1;
  return 0;
}

static void handle_add(uva__calls_t *calls, uva_call_t *call) {
  uint32_t i = handle_home(calls, call);

  while (calls->handles[i] != NULL)
    i = (i + 1) & (calls->nhandles - 1);
  calls->handles[i] = call;
}

static void handle_remove(uva__calls_t *calls, uva_call_t *call) {
  uint32_t mask = calls->nhandles - 1;
  uint32_t hole = handle_home(calls, call);
  uint32_t i;
  uint32_t home;

  while (calls->handles[hole] != call)
    hole = (hole + 1) & mask;
  calls->handles[hole] = NULL;
  /* Later members of the run move back into the hole unless their home lies after it: every member stays
   * reachable from its home without crossing an empty place. */
  for (i = (hole + 1) & mask; calls->handles[i] != NULL; i = (i + 1) & mask) {
    home = handle_home(calls, calls->handles[i]);
    if (((i - home) & mask) >= ((i - hole) & mask)) {
      calls->handles[hole] = calls->handles[i];
      calls->handles[i] = NULL;
      hole = i;
    }
  }
}

/* Room for one more pending handle, the set staying at most half full. */
static int handles_reserve(uva__calls_t *calls) {
  uint64_t pending = atomic_load_explicit(&calls->end->calls_pending, memory_order_relaxed);
  uva_call_t **old = calls->handles;
  uint32_t nold = calls->nhandles;
  uint32_t n = nold == 0 ? 16 : nold * 2;
  uint32_t i;

  if (2 * (pending + 1) <= nold)
    return 0;
  if (nold >= UINT32_MAX / 2)
    return UV_ENOMEM;
  calls->handles = uva__calloc(n, sizeof(*calls->handles));
  if (calls->handles == NULL) {
    calls->handles = old;
    return UV_ENOMEM;
  }
  calls->nhandles = n;
  for (i = 0; i < nold; i++)
    if (old[i] != NULL)
      handle_add(calls, old[i]);
  free(old);
  return 0;
}

/* ---- the calls of an end ------------------------------------------------------------------------- */

/* end's calls, made on its first call. */
static int calls_get(uva__end_t *end, uva__calls_t **out) {
  uva__calls_t *calls = end->calls;

  if (calls == NULL) {
    calls = uva__calloc(1, sizeof(*calls));
    if (calls == NULL)
      return UV_ENOMEM;
    calls->end = end;
    calls->free_slot = NO_SLOT;
    calls->armed_for = NO_DEADLINE;
    uva__heap_init(&calls->deadlines, offsetof(uva_call_t, heap_index_));
    uva__list_init(&calls->due);
    uva__list_init(&calls->expiring);
    end->calls = calls;
  }
  *out = calls;
  return 0;
}

void uva__calls_free(uva__calls_t *calls) {
  if (calls == NULL)
    return;
  assert(atomic_load_explicit(&calls->end->calls_pending, memory_order_relaxed) == 0 && calls->timer == NULL);
  if (calls->refs_reserved > 0) /* the end's handle still holds its own: the pair stays */
    uva__end_unref(calls->end, calls->refs_reserved);
  uva__heap_free(&calls->deadlines);
  free(calls->handles);
  free(calls->slots);
  free(calls);
}

static void on_timer_closed(uv_handle_t *handle) {
  free(handle);
}

static void on_deadline(uv_timer_t *timer);

/* A started end's timer, made with its first call there. It never keeps the loop alive itself: pending
 * calls do (calls_pending_add()). */
static int calls_timer(uva__calls_t *calls, uv_loop_t *loop) {
  uv_timer_t *timer;

  if (calls->timer != NULL)
    return 0;
  timer = uva__malloc(sizeof(*timer));
  if (timer == NULL)
    return UV_ENOMEM;
  uv_timer_init(loop, timer);
  uv_unref((uv_handle_t *)timer);
  timer->data = calls;
  calls->timer = timer;
  calls->armed_for = NO_DEADLINE;
  return 0;
}

void uva__calls_leave_loop(uva__end_t *end) {
  uva__calls_t *calls = end->calls;

  if (calls->loop != NULL) {
    uva__loop_ref(calls->loop, -1);
    calls->loop = NULL;
  }
  if (calls->timer != NULL) {
    uv_close((uv_handle_t *)calls->timer, on_timer_closed);
    calls->timer = NULL;
    calls->armed_for = NO_DEADLINE;
  }
}

int uva__calls_pending(const uva__end_t *end) {
  return atomic_load_explicit(&end->calls_pending, memory_order_relaxed) > 0;
}

void uva__calls_stats(const uva__end_t *end, uva_port_stats_t *stats) {
  stats->calls_pending = atomic_load_explicit(&end->calls_pending, memory_order_relaxed);
  stats->late_replies = atomic_load_explicit(&end->late_replies, memory_order_relaxed);
}

static void calls_pending_add(uva__calls_t *calls) {
  if (uva__counter_add(&calls->end->calls_pending, 1) == 1) {
    calls->loop = calls->end->loop;
    uva__loop_ref(calls->loop, 1);
  }
}

static void calls_pending_sub(uva__calls_t *calls) {
  assert(atomic_load_explicit(&calls->end->calls_pending, memory_order_relaxed) > 0);
  if (uva__counter_add(&calls->end->calls_pending, -1) == 0 && calls->loop != NULL) {
    uva__loop_ref(calls->loop, -1);
    calls->loop = NULL;
  }
}

/* A reply no call waits for. */
static void calls_late(uva__calls_t *calls, uva_msg_t *reply) {
  uva__counter_add(&calls->end->late_replies, 1);
  uva_msg_free(reply);
}

/* ---- deadlines ----------------------------------------------------------------------------------- */

/* Arms the timer for the earliest deadline, unless it is armed for it or earlier already. A timer armed for
 * a call that completed since fires for nothing and re-arms: cheaper than stopping it at every answer. */
static void timer_arm(uva__calls_t *calls) {
  uva_call_t *first = uva__heap_min(&calls->deadlines);
  uint64_t now;

  if (calls->timer == NULL || first == NULL || calls->armed_for <= first->deadline_)
    return;
  now = uv_now(calls->timer->loop);
  uv_timer_start(calls->timer, on_deadline, first->deadline_ > now ? first->deadline_ - now : 0, 0);
  calls->armed_for = first->deadline_;
}

static void deadline_insert(uva__calls_t *calls, uva_call_t *call) {
  uva__heap_push(&calls->deadlines, call, call->deadline_);
  if (uva__heap_min(&calls->deadlines) == call)
    timer_arm(calls);
}

/* The call leaves the deadlines, if it is timed: from then on it has none. */
static void deadline_remove(uva__calls_t *calls, uva_call_t *call) {
  if (call->deadline_ != NO_DEADLINE) {
    uva__heap_remove(&calls->deadlines, call->heap_index_);
    call->deadline_ = NO_DEADLINE;
  }
}

/* An expiring call leaves the expiring list, pending again (its answer came, or it completes). */
static void expiring_leave(uva_call_t *call) {
  if (call->state_ != CALL_EXPIRING)
    return;
  uva__list_remove(CALL_LINK(call));
  call->state_ = CALL_PENDING;
}

/* A pending call completes now, its callback later (in the end's delivery): off the table and the
 * deadlines, onto the due list. */
static void call_complete_later(uva__calls_t *calls, uva_call_t *call, int status, uva_msg_t *reply) {
  expiring_leave(call);
  deadline_remove(calls, call);
  slot_free(calls, call->id_);
  call->status_ = status;
  call->reply_ = reply;
  call->state_ = CALL_DUE;
  uva__list_insert_tail(&calls->due, CALL_LINK(call));
}

/* The expiring calls being judged, and how many of them have no answer found yet. */
typedef struct {
  uva__calls_t *calls;
  unsigned int left;
} expiring_t;

/* An expiring call whose answer is queued already was answered in time: it leaves the expiring list and stays
 * pending, with no deadline, for the answer to complete it in its place in the port's queue. */
static int spare_answered(void *arg, uint64_t id) {
  expiring_t *expiring = arg;
  uva_call_t *call = slot_owner(expiring->calls, id);

  if (call == NULL || (void *)call == &waiter_mark || call->state_ != CALL_EXPIRING)
    return 0;
  expiring_leave(call);
  return --expiring->left == 0;
}

/* In the end's delivery: the expiring calls time out, but those whose answer is queued to the port by now.
 * libuv runs timers before the poll and the deliveries, so a verdict there would come before a callee on
 * this loop got the request (a timeout of 0, or any call whose deadline passed while its loop was busy):
 * the deliveries that come before this end's in the turn, that callee's among them, run first. The look
 * costs a walk of the queue, only when a call expires. */
static void calls_judge(uva__calls_t *calls) {
  expiring_t expiring = {calls, 0};
  uva__link_t *link;

  uva__list_foreach(link, &calls->expiring) expiring.left++;
  uva__end_each_reply(calls->end, spare_answered, &expiring);
  while (!uva__list_empty(&calls->expiring))
    call_complete_later(calls, CALL_OF(calls->expiring.next), UV_ETIMEDOUT, NULL);
}

/* The calls whose deadline passed go on the expiring list, for the end's delivery to judge. */
static void on_deadline(uv_timer_t *timer) {
  uva__calls_t *calls = timer->data;
  uint64_t now = uv_now(timer->loop);
  uva_call_t *call;
  int expired = 0;

  calls->armed_for = NO_DEADLINE;
  while ((call = uva__heap_min(&calls->deadlines)) != NULL && call->deadline_ <= now) {
    deadline_remove(calls, call);
    call->state_ = CALL_EXPIRING;
    uva__list_insert_tail(&calls->expiring, CALL_LINK(call));
    expired = 1;
  }
  if (expired)
    uva__end_calls_due(calls->end);
  timer_arm(calls);
}

/* ---- completion ---------------------------------------------------------------------------------- */

/* What a reply gives its call: its status, and itself made plain (for 0 and the callee's codes), or nothing
 * (a notice: the request was freed unanswered). */
static uva_msg_t *reply_open(uva_msg_t *reply, int *status) {
  *status = reply->call_status;
  if (*status < 0) {
    uva_msg_free(reply);
    return NULL;
  }
  reply->call_kind = UVA__CALL_NONE;
  return reply;
}

/* The call is done: its callback runs (the handle is the caller's again from then on). */
static void call_finish(uva__calls_t *calls, uva_call_t *call) {
  handle_remove(calls, call);
  calls_pending_sub(calls);
  call->state_ = CALL_DONE;
  call->cb_(call, call->status_, call->reply_);
}

void uva__calls_reply(uva__end_t *end, uva_msg_t *reply) {
  uva__calls_t *calls = end->calls;
  uva_call_t *call = slot_owner(calls, reply->call_id);

  if (call == NULL || (void *)call == &waiter_mark) {
    calls_late(calls, reply);
    return;
  }
  expiring_leave(call);
  deadline_remove(calls, call);
  slot_free(calls, call->id_);
  call->reply_ = reply_open(reply, &call->status_);
  call_finish(calls, call);
}

void uva__calls_route(uva__end_t *end, uva_msg_t *replies) {
  uva__calls_t *calls = end->calls;
  uva_msg_t *reply;
  uva_call_t *call;
  uva_msg_t *msg;
  int status;
  int due = 0;

  while ((reply = replies) != NULL) {
    replies = reply->next;
    reply->next = NULL;
    call = slot_owner(calls, reply->call_id);
    /* Only a started end has calls whose callbacks wait; a loop-less caller's was over before this receive.
     */
    if (call == NULL || (void *)call == &waiter_mark || calls->timer == NULL) {
      calls_late(calls, reply);
      continue;
    }
    msg = reply_open(reply, &status);
    call_complete_later(calls, call, status, msg);
    due = 1;
  }
  if (due)
    uva__end_calls_due(end);
}

int uva__calls_run_due(uva__loop_t *loop, uva__end_t *end) {
  uva__calls_t *calls = end->calls;
  uva_call_t *call;

  if (!uva__list_empty(&calls->expiring))
    calls_judge(calls);
  while (!uva__list_empty(&calls->due)) {
    if (!uva__end_share_take(end)) {
      uva__end_calls_due(end); /* the rest on the next turn, after the loop's timers and I/O */
      return 1;
    }
    call = CALL_OF(calls->due.next);
    uva__list_remove(CALL_LINK(call));
    call_finish(calls, call);
    if (!uva__loop_is_delivering(loop, end))
      return 0;
  }
  return 1;
}

void uva__calls_fail_all(uva__end_t *end) {
  uva__calls_t *calls = end->calls;
  uva_call_t *call;
  uint32_t i;

  if (calls == NULL)
    return;
  /* First every pending call joins the due list, so that a callback cancelling another finds it completed
   * (UV_EALREADY); then the callbacks run, the port already retired (calls on it fail). */
  for (i = 0; i < calls->nslots; i++) {
    call = calls->slots[i].owner;
    if (call != NULL && (void *)call != &waiter_mark)
      call_complete_later(calls, call, UV_EPIPE, NULL);
  }
  while (!uva__list_empty(&calls->due)) {
    call = CALL_OF(calls->due.next);
    uva__list_remove(CALL_LINK(call));
    call_finish(calls, call);
  }
}

/* ---- requests ------------------------------------------------------------------------------------ */

/* The way back to a caller in this process: its end, held by a reference. */
static int end_answer(void *to, uva_msg_t *reply) {
  return uva__end_push_owed(to, reply, 1);
}

static void end_release(void *to) {
  uva__end_unref(to, 1);
}

static const uva__reply_type_t end_reply_type = {end_answer, end_release};

/* Makes request a request of the calls' end, call id; returns its kind before, for request_unbind(). Its
 * reference on the end's pair comes from a reserve taken REFS_RESERVED at a time: the count shares a cache
 * line with the end's lock, which the callee takes to answer, and writing it at every call would pull that
 * line back and forth once more per call. The answer gives each back one by one, on the callee's side. */
static uint8_t request_bind(uva__calls_t *calls, uva_msg_t *request, uint64_t id) {
  uint8_t kind = request->call_kind;

  if (calls->refs_reserved == 0) {
    uva__end_ref(calls->end, REFS_RESERVED);
    calls->refs_reserved = REFS_RESERVED;
  }
  calls->refs_reserved--;
  request->call_kind = UVA__CALL_REQUEST;
  request->call_id = id;
  request->reply_type = &end_reply_type;
  request->reply_to = calls->end;
  return kind;
}

/* A post refused the request: it is as it was, and its reference goes back to the reserve. */
static void request_unbind(uva__calls_t *calls, uva_msg_t *request, uint8_t kind) {
  calls->refs_reserved++;
  request->call_kind = kind;
  request->reply_type = NULL;
  request->reply_to = NULL;
}

/* Posts request on port as the call owner's (a uva_call_t, or waiter_mark): its id in *id. On failure
 * nothing changed: the request is as it was, and no slot is taken. */
static int request_post(uva__calls_t *calls, uva_port_t *port, uva_msg_t *request, void *owner,
                        uint64_t *id) {
  uint8_t kind;
  int err;

  err = slot_take(calls, owner, id);
  if (err != 0)
    return err;
  kind = request_bind(calls, request, *id);
  err = uva__port_post(port, request, 0);
  if (err != 0) {
    request_unbind(calls, request, kind);
    slot_free(calls, *id);
  }
  return err;
}

/* The deadline timeout_ms from now in loop's time, or NO_DEADLINE. */
static uint64_t deadline_after(uv_loop_t *loop, int64_t timeout_ms) {
  uint64_t now = uv_now(loop);

  if (timeout_ms < 0 || (uint64_t)timeout_ms >= NO_DEADLINE - now)
    return NO_DEADLINE;
  return now + (uint64_t)timeout_ms;
}

int uva_port_call(uva_port_t *port, uva_call_t *call, uva_msg_t *request, int64_t timeout_ms,
                  uva_call_cb cb) {
  uva__calls_t *calls;
  uint64_t id;
  int err;

  if (port == NULL || call == NULL || request == NULL || cb == NULL)
    return UV_EINVAL;
  /* As a post through it says: its channel closed. */
  if (port->state_ == UVA__HANDLE_DISCONNECTED)
    return UV_EPIPE;
  err = uva__endpoint_check_started(uva__port_endpoint(port));
  if (err != 0)
    return err;
  if (port->state_ == UVA__HANDLE_CLOSING)
    return UV_EPIPE;
  if (request->call_kind == UVA__CALL_REQUEST)
    return UV_EINVAL;
  err = calls_get(port->end_, &calls);
  /* The handle holds its pending call's place in the port's tables until its callback. */
  if (err == 0 && handle_pending(calls, call))
    return UV_EBUSY;
  if (err == 0)
    err = calls_timer(calls, port->loop);
  if (err == 0)
    err = handles_reserve(calls);
  if (err == 0)
    err = request_post(calls, port, request, call, &id);
  if (err != 0)
    return err;
  call->loop = port->loop;
  call->type = UVA_CALL;
  call->state_ = CALL_PENDING;
  call->owner_ = port->owner_;
  call->port_ = port;
  call->cb_ = cb;
  call->reply_ = NULL;
  call->status_ = 0;
  call->id_ = id;
  call->deadline_ = deadline_after(port->loop, timeout_ms);
  handle_add(calls, call);
  calls_pending_add(calls);
  if (call->deadline_ != NO_DEADLINE)
    deadline_insert(calls, call);
  return 0;
}

int uva_call_cancel(uva_call_t *call) {
  uva__end_t *end;

  if (call == NULL || (call->state_ != CALL_PENDING && call->state_ != CALL_EXPIRING &&
                       call->state_ != CALL_DUE && call->state_ != CALL_DONE))
    return UV_EINVAL;
  if (!uva__on_thread(&call->owner_))
    return UV_EPERM;
  if (call->state_ != CALL_PENDING && call->state_ != CALL_EXPIRING)
    return UV_EALREADY; /* an expiring call is not judged yet: the cancel, the caller's word, wins */
  if (uva__port_forked(call->port_))
    return UVA_EFORKED; /* its loop, and the wakeup that would run the callback, are the parent's */
  end = call->port_->end_;
  call_complete_later(end->calls, call, UV_ECANCELED, NULL);
  uva__end_calls_due(end);
  return 0;
}

/* uva_port_call_wait() once its checks passed, the only one on end (port's). */
static int call_wait(uva_port_t *port, uva__end_t *end, uva_msg_t *request, int64_t timeout_ms,
                     uva_msg_t **reply) {
  uva__calls_t *calls;
  uva_msg_t *late;
  uva_msg_t *got;
  uint64_t id;
  int status;
  int err;

  err = calls_get(end, &calls);
  if (err == 0)
    err = request_post(calls, port, request, &waiter_mark, &id);
  if (err != 0) {
    /* UV_EPIPE says one thing, before the post or after: the request is gone. */
    if (err == UV_EPIPE)
      uva_msg_free(request);
    return err;
  }
  err = uva__end_take_reply(end, id, timeout_ms, &got, &late);
  slot_free(calls, id);
  while (late != NULL) {
    uva_msg_t *next = late->next;
    late->next = NULL;
    calls_late(calls, late);
    late = next;
  }
  if (err != 0)
    return err;
  got = reply_open(got, &status);
  if (got != NULL)
    *reply = got;
  return status;
}

int uva_port_call_wait(uva_port_t *port, uva_msg_t *request, int64_t timeout_ms, uva_msg_t **reply) {
  uva__end_t *end;
  int err;

  if (request == NULL || reply == NULL)
    return UV_EINVAL;
  err = uva__endpoint_check(uva__port_endpoint(port), 0);
  if (err != 0)
    return err;
  if (uva__state_started(port->state_))
    return UV_EBUSY;
  if (request->call_kind == UVA__CALL_REQUEST)
    return UV_EINVAL;
  /* One wait at a time: the calls' tables are one thread's, and a second waiter would take the first's
   * reply out of the queue as late (and the first its). The flag also hands the tables from one waiting
   * thread to the next (acquire, release). */
  end = port->end_;
  if (atomic_exchange_explicit(&end->call_waiting, 1, memory_order_acquire) != 0)
    return UV_EBUSY;
  err = call_wait(port, end, request, timeout_ms, reply);
  atomic_store_explicit(&end->call_waiting, 0, memory_order_release);
  return err;
}

/* ---- the callee's side --------------------------------------------------------------------------- */

int uva_msg_is_call(const uva_msg_t *msg) {
  return msg != NULL && msg->call_kind == UVA__CALL_REQUEST;
}

/* 0 if request is owed an answer. */
static int request_check(const uva_msg_t *request) {
  if (request->call_kind == UVA__CALL_ANSWERED)
    return UV_EALREADY;
  return request->call_kind == UVA__CALL_REQUEST ? 0 : UV_EINVAL;
}

/* Sends reply (validated) back with status; on success request is answered, a plain message. */
static int answer(uva_msg_t *request, uva_msg_t *reply, int status) {
  uint8_t kind = reply->call_kind;
  int err;

  reply->call_kind = UVA__CALL_REPLY;
  reply->call_id = request->call_id;
  reply->call_status = status;
  err = request->reply_type->answer(request->reply_to, reply);
  if (err != 0) {
    reply->call_kind = kind;
    return err;
  }
  request->call_kind = UVA__CALL_ANSWERED;
  request->reply_type = NULL;
  request->reply_to = NULL;
  uva__loop_note_answer();
  return 0;
}

int uva_msg_reply(uva_msg_t *request, uva_msg_t *reply) {
  int err;

  if (request == NULL || reply == NULL || request == reply || reply->call_kind == UVA__CALL_REQUEST)
    return UV_EINVAL;
  err = request_check(request);
  if (err == 0)
    err = uva_msg_validate(reply, NULL);
  if (err == 0)
    err = answer(request, reply, 0);
  return err;
}

int uva_msg_reply_error(uva_msg_t *request, int code, const char *text) {
  uva_msg_t *reply;
  size_t len;
  int err;

  if (request == NULL || code <= 0)
    return UV_EINVAL;
  err = request_check(request);
  if (err != 0)
    return err;
  err = uva_msg_new(&reply);
  if (err != 0)
    return err;
  len = text != NULL ? strlen(text) : 0;
  (void)msgpack_pack_str_with_body(uva_msg_packer(reply), text != NULL ? text : "", len);
  err = uva_msg_validate(reply, NULL); /* UV_ENOMEM if the pack could not grow the body */
  if (err == 0)
    err = answer(request, reply, code);
  if (err != 0)
    uva_msg_free(reply);
  return err;
}
