/* Text weft reads from people and launchers: sizes (util/size.h), strict
 * integers (util/param.h) and hostlists (topo/hostlist.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topo/hostlist.h"
#include "util/param.h"
#include "util/size.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  uint64_t bytes;
  int64_t v;
  char why[256];
  weft_parse_size(text, &bytes, why, sizeof why);
  weft_parse_int(text, INT64_MIN, INT64_MAX, &v, why, sizeof why);
  char **names = NULL;
  size_t n = 0, cap = 0;
  if (weft_hostlist_expand(text, 4096, &names, &n, &cap, why, sizeof why) == 0) {
    char **packed = NULL;
    size_t np = 0;
    if (weft_hostlist_compress((const char *const *)names, n, &packed, &np) == 0) weft_hostlist_free(packed, np);
  }
  weft_hostlist_free(names, n);
  free(text);
  return 0;
}
