#include <stdio.h>
#include <string.h>

#include <weft.h>

#define STR2(x) #x
#define STR(x) STR2(x)

int main(void) {
  int v = 0;
  if (weftGetVersion(&v) != weftSuccess || v != WEFT_VERSION_CODE) return 1;
#ifdef WEFT_PACKAGE_VERSION
  /* The version that find_package or pkg-config gave must be the header's. */
  const char *header = STR(WEFT_MAJOR) "." STR(WEFT_MINOR) "." STR(WEFT_PATCH);
  if (strcmp(WEFT_PACKAGE_VERSION, header) != 0) {
    fprintf(stderr, "package version %s, weft.h %s\n", WEFT_PACKAGE_VERSION, header);
    return 4;
  }
#endif
  weftComm_t comm;
  if (weftCommInitAll(&comm, 1, NULL) != weftSuccess) return 2;
  int x = 41, y = 0;
  if (weftAllReduce(&x, &y, 1, weftInt32, weftSum, comm, NULL) != weftSuccess || y != 41) return 3;
  weftCommDestroy(comm);
  printf("consumer ok %d\n", v);
  return 0;
}
