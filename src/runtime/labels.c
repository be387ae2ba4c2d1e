/*
 * labels.c — thread labels (see labels.h). For now no thread ever has labels: the API that sets
 * them is yet to come, and every caller already asks here.
 */
#include "runtime/labels.h"

uint32_t labels_current(void) { return 0; }

const rt_label_t *labels_of(uint32_t id, size_t *n) {
  (void)id;
  *n = 0;
  return NULL;
}
