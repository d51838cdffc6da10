/* common/heap.{h,c}, the min-heap the calls' deadlines live in, tested alone: its order (key, then push
 * order), the index it keeps in each item, and a removal from anywhere, which moves the last node up or down.
 * Through the calls only the orders that timeouts happen to make reach it, and a wrong index there shows as
 * a wrong call timing out much later, if at all. */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/heap.h"
#include "random.h"

#define ITEMS 256

typedef struct {
  uint64_t key;
  uint64_t pushed; /* the push's number, as the heap counts them */
  uint32_t index;  /* the heap's: where the item is */
  int in;          /* on the heap */
} item_t;

static int item_before(const item_t *a, const item_t *b) {
  return a->key < b->key || (a->key == b->key && a->pushed < b->pushed);
}

/* Whether the heap's array is a heap, each item knows its place, and the minimum is the one a scan finds.
 * Plain comparisons, one assertion by the caller: Check reports every assertion to its parent process,
 * which a check after each of thousands of operations cannot afford. */
static int heap_ok(const uva__heap_t *heap, const item_t *items, size_t n) {
  const item_t *min = NULL;
  uint32_t i;
  size_t in = 0;

  for (i = 0; i < heap->size; i++) {
    const item_t *item = heap->nodes[i].item;

    if (item->index != i || !item->in || heap->nodes[i].key != item->key)
      return 0;
    if (i > 0 && item_before(item, heap->nodes[(i - 1) / 2].item))
      return 0;
  }
  for (i = 0; i < n; i++)
    if (items[i].in) {
      in++;
      if (min == NULL || item_before(&items[i], min))
        min = &items[i];
    }
  return heap->size == in && uva__heap_min(heap) == min;
}

static void push(uva__heap_t *heap, item_t *item, uint64_t key) {
  item->key = key;
  item->pushed = heap->pushes;
  item->in = 1;
  uva__heap_push(heap, item, key);
}

static void pop(uva__heap_t *heap, item_t *item) {
  uva__heap_remove(heap, item->index);
  item->in = 0;
}

START_TEST(test_heap_empty) {
  uva__heap_t heap;

  uva__heap_init(&heap, offsetof(item_t, index));
  ck_assert_ptr_null(uva__heap_min(&heap));
  uva__heap_free(&heap);
  uva__heap_free(&heap); /* a freed heap is empty: freeing it again is harmless */
  ck_assert_ptr_null(uva__heap_min(&heap));
}
END_TEST

/* Reserving less than there is room for keeps the room; the heap holds what was reserved without growing. */
START_TEST(test_heap_reserve) {
  item_t items[ITEMS] = {{0}};
  uva__heap_t heap;
  size_t i;

  uva__heap_init(&heap, offsetof(item_t, index));
  ck_assert_int_eq(uva__heap_reserve(&heap, ITEMS), 0);
  ck_assert_uint_eq(heap.capacity, ITEMS);
  ck_assert_int_eq(uva__heap_reserve(&heap, 1), 0);
  ck_assert_uint_eq(heap.capacity, ITEMS);
  for (i = 0; i < ITEMS; i++)
    push(&heap, &items[i], ITEMS - i);
  ck_assert(heap_ok(&heap, items, ITEMS));
  uva__heap_free(&heap);
}
END_TEST

/* Equal keys leave in the order they were pushed, whatever left between them. */
START_TEST(test_heap_ties_in_push_order) {
  item_t items[ITEMS] = {{0}};
  uva__heap_t heap;
  size_t i;

  uva__heap_init(&heap, offsetof(item_t, index));
  ck_assert_int_eq(uva__heap_reserve(&heap, ITEMS), 0);
  for (i = 0; i < ITEMS; i++)
    push(&heap, &items[i], i % 3 == 0 ? 7 : 9);
  for (i = 1; i < ITEMS; i += 4)
    pop(&heap, &items[i]);
  for (i = 0; i < ITEMS; i++) {
    if (!items[i].in || items[i].key != 7)
      continue;
    ck_assert_ptr_eq(uva__heap_min(&heap), &items[i]);
    pop(&heap, &items[i]);
  }
  for (i = 0; i < ITEMS; i++) {
    if (!items[i].in)
      continue;
    ck_assert_ptr_eq(uva__heap_min(&heap), &items[i]);
    pop(&heap, &items[i]);
  }
  ck_assert_ptr_null(uva__heap_min(&heap));
  uva__heap_free(&heap);
}
END_TEST

/* Random pushes and removals from anywhere (the first, the last, the middle), checked after each against a
 * scan: a removal whose last node is smaller than the hole's parent must move it up, a larger one down. */
START_TEST(test_heap_remove_anywhere) {
  item_t items[ITEMS] = {{0}};
  uint64_t seed = 0x9e3779b97f4a7c15ULL + (uint64_t)_i;
  uva__heap_t heap;
  unsigned int round;
  size_t i;

  uva__heap_init(&heap, offsetof(item_t, index));
  ck_assert_int_eq(uva__heap_reserve(&heap, ITEMS), 0);
  for (round = 0; round < 20000; round++) {
    i = next_random(&seed) % ITEMS;
    if (!items[i].in)
      push(&heap, &items[i], next_random(&seed) % 64); /* few keys: many ties */
    else
      pop(&heap, &items[i]);
    if (!heap_ok(&heap, items, ITEMS))
      ck_abort_msg("round %u: the heap is wrong", round);
  }
  while (uva__heap_min(&heap) != NULL) {
    pop(&heap, uva__heap_min(&heap));
    if (!heap_ok(&heap, items, ITEMS))
      ck_abort_msg("draining: the heap is wrong");
  }
  uva__heap_free(&heap);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("heap", 0, NULL, NULL),
      TEST(test_heap_empty),
      TEST(test_heap_reserve),
      TEST(test_heap_ties_in_push_order),
      LOOP_TEST(test_heap_remove_anywhere, 0, 4),
  };

  return suite_of_rows("heap", rows, sizeof(rows) / sizeof(rows[0]));
}
