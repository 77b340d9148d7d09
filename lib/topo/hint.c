#include "topo/hint.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int weft_edit_distance(const char *a, const char *b) {
  enum { MAX = 64 };
  size_t la = strlen(a), lb = strlen(b);
  if (la > MAX) la = MAX;
  if (lb > MAX) lb = MAX;
  int d[MAX + 1][MAX + 1];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
      int best = d[i - 1][j - 1] + (ca != cb);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      /* two neighbours swapped count as one edit */
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == cb &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

const char *weft_hint(const char *word, const char *const *cands) {
  size_t lw = strlen(word);
  if (lw < 2) return NULL; /* one letter is as close to every short name */
  int limit = lw <= 3 ? 1 : (lw <= 6 ? 2 : 3);
  const char *best = NULL;
  int best_d = limit + 1;
  for (; *cands; cands++) {
    int d = weft_edit_distance(word, *cands);
    /* an abbreviation of at least 3 characters also counts */
    if (d > limit && lw >= 3 && !strncasecmp(word, *cands, lw)) d = limit;
    if (d < best_d) {
      best_d = d;
      best = *cands;
    }
  }
  return best;
}
