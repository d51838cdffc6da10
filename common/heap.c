/* A binary min-heap in an array (common/heap.h): node i's children are 2i + 1 and 2i + 2. */
#include <assert.h>
#include <stdlib.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/heap.h"

static int node_less(const uva__heap_node_t *a, const uva__heap_node_t *b) {
  return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

/* Puts node at index and tells its item where it is. */
static void node_place(uva__heap_t *heap, uint32_t index, const uva__heap_node_t *node) {
  heap->nodes[index] = *node;
  *(uint32_t *)((char *)node->item + heap->index_offset) = index;
}

/* Moves node up from the hole at index to where its parents are smaller. */
static void sift_up(uva__heap_t *heap, uint32_t index, const uva__heap_node_t *node) {
  uint32_t parent;

  while (index > 0) {
    parent = (index - 1) / 2;
    if (!node_less(node, &heap->nodes[parent]))
      break;
    node_place(heap, index, &heap->nodes[parent]);
    index = parent;
  }
  node_place(heap, index, node);
}

/* Moves node down from the hole at index to where its children are larger. */
static void sift_down(uva__heap_t *heap, uint32_t index, const uva__heap_node_t *node) {
  uint32_t child;

  while ((child = 2 * index + 1) < heap->size) {
    if (child + 1 < heap->size && node_less(&heap->nodes[child + 1], &heap->nodes[child]))
      child++;
    if (!node_less(&heap->nodes[child], node))
      break;
    node_place(heap, index, &heap->nodes[child]);
    index = child;
  }
  node_place(heap, index, node);
}

void uva__heap_init(uva__heap_t *heap, size_t index_offset) {
  heap->nodes = NULL;
  heap->size = heap->capacity = 0;
  heap->pushes = 0;
  heap->index_offset = index_offset;
}

void uva__heap_free(uva__heap_t *heap) {
  free(heap->nodes);
  heap->nodes = NULL;
  heap->size = heap->capacity = 0;
}

int uva__heap_reserve(uva__heap_t *heap, uint32_t capacity) {
  uva__heap_node_t *nodes;

  if (capacity <= heap->capacity)
    return 0;
  nodes = uva__realloc(heap->nodes, (size_t)capacity * sizeof(*nodes));
  if (nodes == NULL)
    return UV_ENOMEM;
  heap->nodes = nodes;
  heap->capacity = capacity;
  return 0;
}

void uva__heap_push(uva__heap_t *heap, void *item, uint64_t key) {
  uva__heap_node_t node = {key, heap->pushes++, item};

  assert(heap->size < heap->capacity);
  sift_up(heap, heap->size++, &node);
}

void uva__heap_remove(uva__heap_t *heap, uint32_t index) {
  uva__heap_node_t last;

  assert(index < heap->size);
  last = heap->nodes[--heap->size];
  if (index == heap->size)
    return;
  /* The last node fills the hole: it moves up past a smaller parent, or down past smaller children. */
  if (index > 0 && node_less(&last, &heap->nodes[(index - 1) / 2]))
    sift_up(heap, index, &last);
  else
    sift_down(heap, index, &last);
}
