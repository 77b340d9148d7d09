/* The known plaintext of the WAN capture test (wanlab_capture.sh): every rank
 * broadcasts and all-gathers buffers filled with a marker string, so on a
 * plain link the marker crosses the sites byte for byte, and checks that it
 * arrived. Ranks come from the environment (weftCommInitFromEnv, as the WAN
 * lab sets it). Exit status 0: the data arrived intact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

#define MARKER "weft-capture-marker:plaintext-gradient!" /* 39 bytes: crosses chunk edges unaligned */
#define BYTES (1u << 20)

static void fill(char *p, size_t n) {
  size_t m = strlen(MARKER);
  for (size_t i = 0; i < n; i++) p[i] = MARKER[i % m];
}

int main(void) {
  weftComm_t comm;
  if (weftCommInitFromEnv(&comm, NULL) != weftSuccess) {
    fprintf(stderr, "wire_marker: init: %s\n", weftGetLastError(NULL));
    return 2;
  }
  int rank = 0, n = 0;
  weftCommUserRank(comm, &rank);
  weftCommCount(comm, &n);
  char *want = malloc(BYTES), *buf = malloc(BYTES), *all = malloc((size_t)n * BYTES);
  if (!want || !buf || !all) return 2;
  fill(want, BYTES);
  memcpy(buf, want, BYTES);
  if (rank != 0) memset(buf, 0, BYTES);
  int bad = 0;
  if (weftBroadcast(buf, buf, BYTES, weftInt8, 0, comm, NULL) != weftSuccess ||
      weftAllGather(want, all, BYTES, weftInt8, comm, NULL) != weftSuccess) {
    fprintf(stderr, "wire_marker: rank %d: %s\n", rank, weftGetLastError(comm));
    bad = 2;
  } else {
    if (memcmp(buf, want, BYTES) != 0) bad = 1;
    for (int r = 0; r < n; r++)
      if (memcmp(all + (size_t)r * BYTES, want, BYTES) != 0) bad = 1;
    if (bad) fprintf(stderr, "wire_marker: rank %d: wrong data\n", rank);
  }
  weftCommDestroy(comm);
  free(want);
  free(buf);
  free(all);
  return bad;
}
