#include <stdio.h>

#include <weft.h>

int main(void) {
  int v = 0;
  if (weftGetVersion(&v) != weftSuccess || v != WEFT_VERSION_CODE) return 1;
  weftComm_t comm;
  if (weftCommInitAll(&comm, 1, NULL) != weftSuccess) return 2;
  int x = 41, y = 0;
  if (weftAllReduce(&x, &y, 1, weftInt32, weftSum, comm, NULL) != weftSuccess || y != 41) return 3;
  weftCommDestroy(comm);
  printf("consumer ok %d\n", v);
  return 0;
}
