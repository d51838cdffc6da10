/* BroadcastChannel: process-wide named groups. Each member is a lone end; a post copies the message into the
 * queue of every other member.
 *
 * Bounds: a member may bound its queue as a port does. A post first checks, under the group's lock, that
 * every other member has room, then makes every copy, then pushes them: all or nothing. Posts to a group
 * are serialized by that lock and only they add to a member's queue, so the room a post found is still
 * there when it pushes (members only take messages out, or close and drop their copy). A member's owner
 * that lowers its limits meanwhile comes after the post, as with a port whose limits are lowered under a
 * full queue. Posters that wait for room watch the full members (uva__end_check_room()): a member that
 * gets room, or leaves, wakes the group (group->room for blocked posters, writable callbacks for started
 * ones), and each waiter looks at every member again. */
#include <stdlib.h>
#include <string.h>

#include "channel/endpoint.h"

#define GROUP_NAME_MAX 255

struct uva__group_s {
  uv_mutex_t lock; /* guards the fields below and the members' group fields; taken before any
                      member's end->lock */
  uv_cond_t room;  /* a member got room or left, or a poster's own member is closing: posters
                      blocked in uva_broadcast_post_wait() look again */
  uva__link_t members;
  unsigned int nmembers;
  unsigned int waiting; /* members whose writable callback waits for room (end->wants_room) */
  uva__group_t *next;   /* [groups_lock] */
  char name[];
};

static uv_mutex_t groups_lock = UVA__MUTEX_INITIALIZER;
static uva__group_t *groups; /* [groups_lock] */

/* A child's members make groups of their own: the parent's members it inherited (their calls return
 * UVA_EFORKED) would take copies nobody reads, or refuse every post when full. */
static void groups_after_fork(void) {
  UVA__MUTEX_RESET(groups_lock);
  groups = NULL;
}

UVA__AFTER_FORK(groups_after_fork)

#define MEMBER_OF(link) uva__container_of(link, uva__end_t, member)

/* groups_lock held. The group called name, created if need be. */
static int group_find(const char *name, size_t len, uva__group_t **out) {
  uva__group_t *group;

  for (group = groups; group != NULL; group = group->next)
    if (strcmp(group->name, name) == 0) {
      *out = group;
      return 0;
    }
  group = uva__malloc(sizeof(*group) + len + 1);
  if (group == NULL)
    return UV_ENOMEM;
  if (uv_mutex_init(&group->lock) != 0) {
    free(group);
    return UV_ENOMEM;
  }
  if (uv_cond_init(&group->room) != 0) {
    uv_mutex_destroy(&group->lock);
    free(group);
    return UV_ENOMEM;
  }
  uva__list_init(&group->members);
  group->nmembers = 0;
  group->waiting = 0;
  memcpy(group->name, name, len + 1);
  group->next = groups;
  groups = group;
  *out = group;
  return 0;
}

/* group->lock held. 0 if every member but poster has room for a message of len bytes; UV_E2BIG if len is
 * over one's byte bound; else UV_EAGAIN, and with watch each full one wakes the group once it has room. */
static int others_check_room(uva__group_t *group, uva__end_t *poster, size_t len, int watch) {
  uva__link_t *link;
  int result = 0;
  int err;

  uva__list_foreach(link, &group->members) {
    if (MEMBER_OF(link) == poster)
      continue;
    err = uva__end_check_room(MEMBER_OF(link), len, watch);
    if (err == UV_E2BIG)
      return err;
    if (err != 0)
      result = err;
  }
  return result;
}

/* group->lock held. A post through poster of len bytes failed for want of room: each member without it
 * counts the refusal (uva_broadcast_stats()). */
static void others_note_refused(uva__group_t *group, uva__end_t *poster, size_t len) {
  uva__link_t *link;

  uva__list_foreach(link, &group->members) {
    if (MEMBER_OF(link) != poster)
      uva__end_note_refused(MEMBER_OF(link), len);
  }
}

/* group->lock held. Room may have come: blocked posters look again, and each started member waiting for
 * room gets its writable callback once every other member has room for its refused post (or that post
 * would now fail for good, over a byte bound). */
static void room_changed_locked(uva__group_t *group) {
  uva__link_t *link;
  uva__end_t *end;

  uv_cond_broadcast(&group->room);
  for (link = group->members.next; link != &group->members && group->waiting > 0; link = link->next) {
    end = MEMBER_OF(link);
    if (end->wants_room && others_check_room(group, end, end->refused_len, 1) != UV_EAGAIN) {
      end->wants_room = 0;
      group->waiting--;
      uva__end_notify_writable(end);
    }
  }
}

void uva__group_room(uva__group_t *group) {
  uv_mutex_lock(&group->lock);
  room_changed_locked(group);
  uv_mutex_unlock(&group->lock);
}

/* groups_lock held. */
static void group_leave(uva__group_t *group, uva__end_t *end) {
  uva__group_t **p;

  uv_mutex_lock(&group->lock);
  uva__list_remove(&end->member);
  group->nmembers--;
  if (end->wants_room) {
    end->wants_room = 0;
    group->waiting--;
  }
  /* What the member held may have been all a waiting poster needed. */
  room_changed_locked(group);
  uv_mutex_unlock(&group->lock);
  if (group->nmembers > 0)
    return;
  for (p = &groups; *p != group; p = &(*p)->next)
    ;
  *p = group->next;
  uv_cond_destroy(&group->room);
  uv_mutex_destroy(&group->lock);
  free(group);
}

void uva__member_leave(uva__end_t *end) {
  if (end->group == NULL)
    return;
  uv_mutex_lock(&groups_lock);
  group_leave(end->group, end);
  uv_mutex_unlock(&groups_lock);
  end->group = NULL;
}

void uva__group_wake(uva__group_t *group) {
  /* Under the lock: a poster looks at its state, then waits, without letting go of it in between. */
  uv_mutex_lock(&group->lock);
  uv_cond_broadcast(&group->room);
  uv_mutex_unlock(&group->lock);
}

int uva_broadcast_init(uva_broadcast_t *bc, const char *name) {
  uva__group_t *group;
  uva__end_t *end;
  size_t len;
  int err;

  if (bc == NULL || name == NULL)
    return UV_EINVAL;
  len = strnlen(name, GROUP_NAME_MAX + 1);
  if (len == 0 || len > GROUP_NAME_MAX)
    return UV_EINVAL;
  err = uva__end_new_member(&end);
  if (err != 0)
    return err;
  uv_mutex_lock(&groups_lock);
  err = group_find(name, len, &group);
  if (err == 0) {
    uv_mutex_lock(&group->lock);
    end->group = group;
    uva__list_insert_tail(&group->members, &end->member);
    group->nmembers++;
    uv_mutex_unlock(&group->lock);
  }
  uv_mutex_unlock(&groups_lock);
  if (err != 0) {
    uva__end_close(end);
    uva__end_release(end);
    return err;
  }
  uva__endpoint_init(uva__broadcast_endpoint(bc), UVA_BROADCAST, end);
  return 0;
}

int uva_broadcast_start(uva_broadcast_t *bc, uv_loop_t *loop, uva_broadcast_message_cb message_cb,
                        uva_broadcast_close_cb close_cb) {
  return uva__endpoint_start(uva__broadcast_endpoint(bc), loop,
                             (union uva__message_cb_u){.broadcast = message_cb},
                             (union uva__close_cb_u){.broadcast = close_cb});
}

/* group->lock held, while a post through bc waits for room: 0 once woken, UV_ETIMEDOUT, UV_ECANCELED (its
 * actor is ending), or UV_EBADF when bc is being closed (its close wakes the wait). */
static int wait_for_room(uva_broadcast_t *bc, uva__wait_t *wait) {
  if (!uva__state_may_post(__atomic_load_n(&bc->state_, __ATOMIC_SEQ_CST)))
    return UV_EBADF;
  return uva__wait(wait);
}

/* group->lock held. Waits until every other member of bc's group has room for len bytes, up to timeout_ms
 * (0: never wait). */
static int room_in_others_locked(uva_broadcast_t *bc, size_t len, int64_t timeout_ms, uva__wait_t *wait) {
  uva__end_t *self = bc->end_;
  int err;

  for (;;) {
    err = others_check_room(self->group, self, len, timeout_ms != 0);
    if (err != UV_EAGAIN)
      return err;
    if (timeout_ms == 0) {
      self->refused_len = len; /* what uva_broadcast_on_writable() waits room for */
      others_note_refused(self->group, self, len);
      return err;
    }
    err = wait_for_room(bc, wait);
    if (err == UV_ETIMEDOUT)
      others_note_refused(self->group, self, len);
    if (err != 0)
      return err;
  }
}

/* group->lock held, every other member with room. Copies msg to each of them and consumes it. Every copy is
 * made before any is queued, so a failure leaves no member with the message; the last member gets msg
 * itself. */
static int copy_to_others_locked(uva_broadcast_t *bc, uva_msg_t *msg) {
  uva__end_t *self = bc->end_;
  uva__group_t *group = self->group;
  uva__link_t *link;
  uva_msg_t *copies = NULL;
  uva_msg_t *copy;
  unsigned int i;
  int err;

  for (i = 1; i < group->nmembers - 1; i++) {
    err = uva__msg_clone(msg, &copy);
    if (err != 0) {
      while ((copy = copies) != NULL) {
        copies = copy->next;
        uva_msg_free(copy);
      }
      return err;
    }
    copy->next = copies;
    copies = copy;
  }
  if (group->nmembers == 1) {
    uva_msg_free(msg);
    return 0;
  }
  uva__list_foreach(link, &group->members) {
    if (MEMBER_OF(link) == self)
      continue;
    copy = copies != NULL ? copies : msg;
    if (copies != NULL)
      copies = copies->next;
    /* A member closing meanwhile refuses its copy (UV_EPIPE): it would never have read it. */
    if (uva__end_push(MEMBER_OF(link), copy) != 0)
      uva_msg_free(copy);
  }
  return 0;
}

/* Copies msg to every other member of bc's group once each has room, waiting up to timeout_ms for it (0:
 * never wait); consumes msg on success. */
static int group_post(uva_broadcast_t *bc, uva_msg_t *msg, int64_t timeout_ms) {
  uva__group_t *group = bc->end_->group;
  uva__wait_t wait;
  int err;

  /* The wait registers with the thread's canceller before it takes the group's lock (cancel.h). */
  if (timeout_ms != 0)
    uva__wait_begin(&wait, &group->lock, &group->room, timeout_ms);
  uv_mutex_lock(&group->lock);
  err = room_in_others_locked(bc, msg->len, timeout_ms, &wait);
  if (err == 0)
    err = copy_to_others_locked(bc, msg);
  uv_mutex_unlock(&group->lock);
  if (timeout_ms != 0)
    uva__wait_end(&wait);
  return err;
}

static int broadcast_post(uva_broadcast_t *bc, uva_msg_t *msg, int64_t timeout_ms) {
  int err;

  if (bc == NULL || msg == NULL)
    return UV_EINVAL;
  err = uva__endpoint_enter_post(uva__broadcast_endpoint(bc), UV_EBADF);
  if (err != 0)
    return err;
  err = uva__end_inherited(bc->end_) ? UVA_EFORKED : uva_msg_validate(msg, NULL);
  if (err == 0 && !uva__msg_copyable(msg))
    err = UV_EINVAL;
  if (err == 0)
    err = group_post(bc, msg, timeout_ms);
  uva__endpoint_leave_post(uva__broadcast_endpoint(bc));
  return err;
}

int uva_broadcast_post(uva_broadcast_t *bc, uva_msg_t *msg) {
  return broadcast_post(bc, msg, 0);
}

int uva_broadcast_post_wait(uva_broadcast_t *bc, uva_msg_t *msg, int64_t timeout_ms) {
  int err = broadcast_post(bc, msg, timeout_ms);

  /* The wait rule: a wait of 0 that would have to wait times out. */
  return err == UV_EAGAIN && timeout_ms == 0 ? uva__wait_refused() : err;
}

int uva_broadcast_close(uva_broadcast_t *bc) {
  uva__end_t *end;
  int err;

  err = uva__endpoint_check(uva__broadcast_endpoint(bc), 0);
  if (err != 0)
    return err;
  if (bc->state_ == UVA__HANDLE_CLOSING)
    return UV_EALREADY;
  end = bc->end_;
  /* Posters through this member read its group: they leave before the member does. */
  uva__hold_release(&bc->hold_);
  uva__endpoint_retire(uva__broadcast_endpoint(bc),
                       bc->state_ == UVA__HANDLE_NEW ? UVA__HANDLE_CLOSED : UVA__HANDLE_CLOSING);
  uva__member_leave(end);
  uva__end_close(end);
  if (bc->state_ == UVA__HANDLE_CLOSED) {
    bc->end_ = NULL;
    bc->loop = NULL;
    uva__end_release(end);
  } else {
    uva__end_set_ref(end, 1);
  }
  return 0;
}

int uva_broadcast_receive(uva_broadcast_t *bc, uva_msg_t **msgp) {
  return uva__endpoint_receive(uva__broadcast_endpoint(bc), msgp, 0, 0);
}

int uva_broadcast_receive_wait(uva_broadcast_t *bc, uva_msg_t **msgp, int64_t timeout_ms) {
  return uva__endpoint_receive(uva__broadcast_endpoint(bc), msgp, 1, timeout_ms);
}

int uva_broadcast_ref(uva_broadcast_t *bc) {
  return uva__endpoint_ref(uva__broadcast_endpoint(bc), 1);
}

int uva_broadcast_unref(uva_broadcast_t *bc) {
  return uva__endpoint_ref(uva__broadcast_endpoint(bc), 0);
}

int uva_broadcast_has_ref(const uva_broadcast_t *bc) {
  return uva__endpoint_has_ref((const uva__endpoint_t *)bc);
}

int uva_broadcast_set_limits(uva_broadcast_t *bc, size_t max_messages, size_t max_bytes) {
  return uva__endpoint_set_limits(uva__broadcast_endpoint(bc), max_messages, max_bytes);
}

int uva_broadcast_on_writable(uva_broadcast_t *bc, uva_broadcast_writable_cb writable_cb) {
  uva__end_t *end;
  uva__group_t *group;
  int err;

  if (bc == NULL || writable_cb == NULL)
    return UV_EINVAL;
  err = uva__endpoint_check_started(uva__broadcast_endpoint(bc));
  if (err != 0)
    return err;
  /* A closing member has left its group: its posts fail with UV_EBADF, and so does this. */
  if (bc->state_ == UVA__HANDLE_CLOSING)
    return UV_EBADF;
  end = bc->end_;
  group = end->group;
  bc->writable_cb_.broadcast = writable_cb;
  uv_mutex_lock(&group->lock);
  if (!end->wants_room) {
    end->wants_room = 1;
    group->waiting++;
  }
  room_changed_locked(group); /* at once (next turn) if every other member has room already */
  uv_mutex_unlock(&group->lock);
  return 0;
}
