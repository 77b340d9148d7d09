/* The rendezvous root: a short-lived detached thread that gathers every
 * rank's bootstrap address and sends the full table back. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/wire.h"
#include "core/log.h"

typedef struct {
  int lfd;
  uint8_t secret[16];
  int timeout_ms;
} root_args;

static void reply_status(int fd, const uint8_t secret[16], int32_t status, int32_t nranks) {
  boot_reply rep = {WEFT_ID_MAGIC, {0}, status, nranks};
  memcpy(rep.secret, secret, 16);
  char err[WEFT_SOCK_ERRLEN];
  weft_sock_send_all(fd, &rep, sizeof rep, 2000, err);
}

static void *root_main(void *p) {
  root_args a = *(root_args *)p;
  free(p);
  char err[WEFT_SOCK_ERRLEN];
  long long deadline = weft_now_ms() + a.timeout_ms;
  int n = -1, got = 0;
  int *fds = NULL;
  weft_rank_info *table = NULL;
  while (n < 0 || got < n) {
    long long left = deadline - weft_now_ms();
    int fd;
    if (left <= 0 || weft_sock_accept(a.lfd, (int)(left > 0 ? left : 0), NULL, &fd, err) != 0) {
      weft_log(NULL, weftLogWarn, "bootstrap root: gave up after %d ms with %d of %d ranks joined",
               a.timeout_ms, got, n);
      goto out;
    }
    boot_hello h;
    if (weft_sock_recv_all(fd, &h, sizeof h, 5000, err) != 0 || h.magic != WEFT_ID_MAGIC ||
        memcmp(h.secret, a.secret, 16) != 0) {
      weft_log(NULL, weftLogWarn, "bootstrap root: dropped a connection without the job secret");
      close(fd);
      continue;
    }
    if (n < 0) {
      if (h.nranks < 1 || h.nranks > (1 << 20)) {
        reply_status(fd, a.secret, BOOT_BAD_NRANKS, h.nranks);
        close(fd);
        continue;
      }
      n = h.nranks;
      fds = malloc(sizeof(int) * (size_t)n);
      table = calloc((size_t)n, sizeof *table);
      if (!fds || !table) goto out;
      for (int i = 0; i < n; i++) fds[i] = -1;
    }
    if (h.nranks != n || h.rank < 0 || h.rank >= n) {
      reply_status(fd, a.secret, BOOT_BAD_NRANKS, n);
      close(fd);
      continue;
    }
    if (fds[h.rank] >= 0) {
      reply_status(fd, a.secret, BOOT_DUP_RANK, n);
      close(fd);
      continue;
    }
    fds[h.rank] = fd;
    table[h.rank] = h.info;
    got++;
  }
  for (int r = 0; r < n; r++) {
    boot_reply rep = {WEFT_ID_MAGIC, {0}, BOOT_OK, n};
    memcpy(rep.secret, a.secret, 16);
    if (weft_sock_send_all(fds[r], &rep, sizeof rep, 5000, err) != 0 ||
        weft_sock_send_all(fds[r], table, sizeof *table * (size_t)n, 5000, err) != 0)
      weft_log(NULL, weftLogWarn, "bootstrap root: sending table to rank %d: %s", r, err);
  }
out:
  if (fds)
    for (int r = 0; r < n; r++)
      if (fds[r] >= 0) close(fds[r]);
  free(fds);
  free(table);
  close(a.lfd);
  return NULL;
}

int weft_root_start(weft_sockaddr *addr, const uint8_t secret[16], int timeout_ms, char *err) {
  int lfd;
  if (weft_sock_listen(addr, &lfd, err) != 0) return -1;
  root_args *a = malloc(sizeof *a);
  if (!a) {
    close(lfd);
    snprintf(err, WEFT_SOCK_ERRLEN, "out of memory");
    return -1;
  }
  a->lfd = lfd;
  memcpy(a->secret, secret, 16);
  a->timeout_ms = timeout_ms;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &attr, root_main, a);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    close(lfd);
    free(a);
    snprintf(err, WEFT_SOCK_ERRLEN, "cannot start bootstrap root thread: %s", strerror(rc));
    return -1;
  }
  return 0;
}
