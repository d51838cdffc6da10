/* Internal: a binary min-heap of items, by a 64-bit key, ties in the order they were pushed.
 *
 * An array, so a push, a removal from anywhere and a look at the smallest cost O(log n), O(log n) and O(1),
 * and the comparisons read the array alone (each node holds its key and sequence beside the item). Each
 * item keeps its own index, a uint32_t at index_offset in it, which the heap updates as the item moves, so
 * that it can leave from anywhere. Pushing never allocates: the owner reserves room beforehand
 * (uva__heap_reserve()), where it can still refuse what it is asked to do. One thread uses a heap. */
#ifndef UVA_COMMON_HEAP_H
#define UVA_COMMON_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t key;
  uint64_t seq; /* the push's number: among equal keys, the earlier push comes first */
  void *item;
} uva__heap_node_t;

typedef struct {
  uva__heap_node_t *nodes;
  uint32_t size;
  uint32_t capacity;
  uint64_t pushes;     /* the next push's seq */
  size_t index_offset; /* where in an item its index is */
} uva__heap_t;

/* An empty heap whose items keep their index at index_offset (offsetof()). */
void uva__heap_init(uva__heap_t *heap, size_t index_offset);

/* Frees the heap's storage (its items are the owner's). */
void uva__heap_free(uva__heap_t *heap);

/* Makes room for capacity items: 0, or UV_ENOMEM (the heap is unchanged). */
int uva__heap_reserve(uva__heap_t *heap, uint32_t capacity);

/* Adds item with key; there is room (uva__heap_reserve()). */
void uva__heap_push(uva__heap_t *heap, void *item, uint64_t key);

/* Removes the item at index (the one the heap keeps in it). */
void uva__heap_remove(uva__heap_t *heap, uint32_t index);

/* The item with the smallest key (the earliest pushed among equals), or NULL if the heap is empty. */
static inline void *uva__heap_min(const uva__heap_t *heap) {
  return heap->size > 0 ? heap->nodes[0].item : NULL;
}

#endif /* UVA_COMMON_HEAP_H */
