/* BroadcastChannel: process-wide named groups. Each member is a lone end; a post copies the message into the
 * queue of every other member. */
#include <stdlib.h>
#include <string.h>

#include "handle.h"

#define GROUP_NAME_MAX 255

struct uva__group_s {
  uv_mutex_t lock;         /* guards members and nmembers; taken before any member's end->lock */
  uva__link_t members;
  unsigned int nmembers;
  uva__group_t *next;      /* [groups_lock] */
  char name[];
};

static uv_once_t groups_once = UV_ONCE_INIT;
static uv_mutex_t groups_lock;
static uva__group_t *groups;

static void groups_init(void) {
  if (uv_mutex_init(&groups_lock) != 0)
    abort();
}

#define MEMBER_OF(link) ((uva__end_t *)((char *)(link) - offsetof(uva__end_t, member)))

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
  group->members.next = group->members.prev = &group->members;
  group->nmembers = 0;
  memcpy(group->name, name, len + 1);
  group->next = groups;
  groups = group;
  *out = group;
  return 0;
}

/* groups_lock held. */
static void group_leave(uva__group_t *group, uva__end_t *end) {
  uva__group_t **p;

  uv_mutex_lock(&group->lock);
  end->member.prev->next = end->member.next;
  end->member.next->prev = end->member.prev;
  group->nmembers--;
  uv_mutex_unlock(&group->lock);
  if (group->nmembers > 0)
    return;
  for (p = &groups; *p != group; p = &(*p)->next)
    ;
  *p = group->next;
  uv_mutex_destroy(&group->lock);
  free(group);
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
  err = uva__end_pair_new(&end, NULL, 1);
  if (err != 0)
    return err;
  uv_once(&groups_once, groups_init);
  uv_mutex_lock(&groups_lock);
  err = group_find(name, len, &group);
  if (err == 0) {
    uv_mutex_lock(&group->lock);
    end->group = group;
    end->member.prev = group->members.prev;
    end->member.next = &group->members;
    group->members.prev->next = &end->member;
    group->members.prev = &end->member;
    group->nmembers++;
    uv_mutex_unlock(&group->lock);
  }
  uv_mutex_unlock(&groups_lock);
  if (err != 0) {
    uva__end_close(end);
    uva__end_release(end);
    return err;
  }
  bc->end_ = end;
  bc->message_cb_ = NULL;
  bc->close_cb_ = NULL;
  bc->state_ = UVA__HANDLE_NEW;
  bc->flags_ = 0;
  bc->posting_ = 0;
  return 0;
}

static void on_member_message(void *handle, uva_msg_t *msg) {
  uva_broadcast_t *bc = handle;
  bc->message_cb_(bc, msg);
}

static void on_member_writable(void *handle) {
  (void)handle; /* members have no limits, so never wait for room */
}

static void on_member_closed(void *handle) {
  uva_broadcast_t *bc = handle;

  uva__guard_retire(&bc->state_, UVA__HANDLE_CLOSED, &bc->posting_);
  bc->end_ = NULL;
  if (bc->close_cb_ != NULL)
    bc->close_cb_(bc);
}

static const uva__end_ops_t member_ops = {on_member_message, on_member_writable, on_member_closed};

static int member_check(const uva_broadcast_t *bc) {
  return bc == NULL ? UV_EINVAL : uva__handle_check(bc->state_, &bc->owner_, 0);
}

int uva_broadcast_start(uva_broadcast_t *bc, uv_loop_t *loop, uva_broadcast_message_cb message_cb,
                        uva_broadcast_close_cb close_cb) {
  if (bc == NULL || loop == NULL || message_cb == NULL)
    return UV_EINVAL;
  if (uva__handle_started(bc->state_))
    return UV_EBUSY;
  bc->message_cb_ = message_cb;
  bc->close_cb_ = close_cb;
  return uva__handle_start(&bc->state_, &bc->owner_, bc->end_, loop, bc, &member_ops);
}

static int group_post(uva_broadcast_t *bc, uva_msg_t *msg);

int uva_broadcast_post(uva_broadcast_t *bc, uva_msg_t *msg) {
  int err;

  if (bc == NULL || msg == NULL)
    return UV_EINVAL;
  err = uva__handle_enter_post(&bc->state_, &bc->posting_, UV_EBADF);
  if (err != 0)
    return err;
  err = uva_msg_validate(msg, NULL);
  if (err == 0 && !uva__msg_copyable(msg))
    err = UV_EINVAL;
  if (err == 0)
    err = group_post(bc, msg);
  uva__guard_leave(&bc->posting_);
  return err;
}

/* Copies msg to every other member of bc's group; consumes it on success. */
static int group_post(uva_broadcast_t *bc, uva_msg_t *msg) {
  uva__group_t *group = bc->end_->group;
  uva__link_t *link;
  uva_msg_t *copies = NULL;
  uva_msg_t *copy;
  unsigned int others;
  unsigned int i;
  int err;

  uv_mutex_lock(&group->lock);
  /* Every copy is made before any is queued, so a failure leaves no member with the message. The last
   * member gets msg itself. */
  others = group->nmembers - 1;
  for (i = 1; i < others; i++) {
    err = uva__msg_clone(msg, &copy);
    if (err != 0) {
      while ((copy = copies) != NULL) {
        copies = copy->next;
        uva_msg_free(copy);
      }
      uv_mutex_unlock(&group->lock);
      return err;
    }
    copy->next = copies;
    copies = copy;
  }
  for (link = group->members.next; link != &group->members; link = link->next) {
    if (MEMBER_OF(link) == bc->end_)
      continue;
    copy = copies != NULL ? copies : msg;
    if (copies != NULL)
      copies = copies->next;
    /* A member closing meanwhile refuses its copy (UV_EPIPE): it would never have read it. */
    if (uva__end_enqueue(MEMBER_OF(link), copy, 0) != 0)
      uva_msg_free(copy);
  }
  uv_mutex_unlock(&group->lock);
  if (others == 0)
    uva_msg_free(msg);
  return 0;
}

int uva_broadcast_close(uva_broadcast_t *bc) {
  uva__end_t *end;
  int err;

  err = member_check(bc);
  if (err != 0)
    return err;
  if (bc->state_ == UVA__HANDLE_CLOSING)
    return UV_EALREADY;
  end = bc->end_;
  /* Posters through this member read its group: they leave before the member does. */
  if (bc->state_ == UVA__HANDLE_NEW)
    uva__guard_retire(&bc->state_, UVA__HANDLE_CLOSED, &bc->posting_);
  else
    uva__guard_retire(&bc->state_, UVA__HANDLE_CLOSING, &bc->posting_);
  uv_mutex_lock(&groups_lock);
  group_leave(end->group, end);
  uv_mutex_unlock(&groups_lock);
  end->group = NULL;
  uva__end_close(end);
  if (bc->state_ == UVA__HANDLE_CLOSED) {
    bc->end_ = NULL;
    uva__end_release(end);
  } else {
    uva__end_set_ref(end, 1);
  }
  return 0;
}
