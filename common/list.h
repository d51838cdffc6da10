/* Internal: container_of and the one intrusive list every module uses.
 *
 * A list is a circular, doubly linked ring of links with a head link of its own, so a member leaves in O(1)
 * from wherever it is and an empty list is a head that points at itself. A link not on any list points at
 * itself too, so removing it twice is harmless. */
#ifndef UVA_COMMON_LIST_H
#define UVA_COMMON_LIST_H

#include <stddef.h>

#include "uvactor/common.h" /* struct uva__link_s, which public handles that sit on a list hold */

/* The struct of type that holds member at ptr. */
#define uva__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct uva__link_s uva__link_t;

static inline void uva__list_init(uva__link_t *head) {
  head->next = head;
  head->prev = head;
}

static inline int uva__list_empty(const uva__link_t *head) {
  return head->next == head;
}

static inline void uva__list_insert_tail(uva__link_t *head, uva__link_t *link) {
  link->prev = head->prev;
  link->next = head;
  head->prev->next = link;
  head->prev = link;
}

static inline void uva__list_remove(uva__link_t *link) {
  link->prev->next = link->next;
  link->next->prev = link->prev;
  link->next = link;
  link->prev = link;
}

/* Moves every link of from to the tail of to, in order. */
static inline void uva__list_move(uva__link_t *from, uva__link_t *to) {
  if (uva__list_empty(from))
    return;
  from->next->prev = to->prev;
  to->prev->next = from->next;
  from->prev->next = to;
  to->prev = from->prev;
  uva__list_init(from);
}

#define uva__list_foreach(link, head) for ((link) = (head)->next; (link) != (head); (link) = (link)->next)

#endif /* UVA_COMMON_LIST_H */
