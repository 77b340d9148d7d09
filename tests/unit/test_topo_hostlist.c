/* Topology layer: hostlist expansion and compression. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topo/hostlist.h"

/* Expands text and compares with the space-separated want. */
static void expands_to(const char *text, const char *want) {
  char **names = NULL, err[256] = "";
  size_t n = 0, cap = 0;
  if (weft_hostlist_expand(text, WEFT_HOSTLIST_MAX, &names, &n, &cap, err, sizeof err))
    fail_msg("'%s': %s", text, err);
  char got[4096] = "";
  for (size_t i = 0; i < n; i++) {
    if (i) strcat(got, " ");
    strcat(got, names[i]);
  }
  assert_string_equal(got, want);
  weft_hostlist_free(names, n);
}

static void fails_with(const char *text, const char *msg) {
  char **names = NULL, err[1024] = "";
  size_t n = 0, cap = 0;
  assert_int_equal(weft_hostlist_expand(text, WEFT_HOSTLIST_MAX, &names, &n, &cap, err, sizeof err), -1);
  assert_string_equal(err, msg);
  weft_hostlist_free(names, n);
}

static void test_expand(void **state) {
  (void)state;
  expands_to("login-a", "login-a");
  expands_to("node[01-04]", "node01 node02 node03 node04");
  expands_to("n[1-3,7,10-11]", "n1 n2 n3 n7 n10 n11");
  expands_to("r[1-2]n[1-3]", "r1n1 r1n2 r1n3 r2n1 r2n2 r2n3");
  expands_to("a,b[1-2],c", "a b1 b2 c");
  expands_to("n[8-10]", "n8 n9 n10");
  expands_to("n[08-10]", "n08 n09 n10");
  expands_to("n[098-101]", "n098 n099 n100 n101");
  expands_to("x[1-2].dc.example", "x1.dc.example x2.dc.example");
  expands_to("[1-2]-gpu", "1-gpu 2-gpu");
  expands_to("n[3,1]", "n3 n1");
  expands_to("h20-[1-3]", "h20-1 h20-2 h20-3");

  char **names = NULL, err[256];
  size_t n = 0, cap = 0;
  assert_int_equal(weft_hostlist_expand("gpu[01-16]", WEFT_HOSTLIST_MAX, &names, &n, &cap, err, sizeof err), 0);
  assert_int_equal(n, 16);
  assert_string_equal(names[0], "gpu01");
  assert_string_equal(names[9], "gpu10");
  assert_string_equal(names[15], "gpu16");
  /* appends to what is there */
  assert_int_equal(weft_hostlist_expand("x", WEFT_HOSTLIST_MAX, &names, &n, &cap, err, sizeof err), 0);
  assert_int_equal(n, 17);
  assert_string_equal(names[16], "x");
  weft_hostlist_free(names, n);

  /* the cap, exactly */
  names = NULL;
  n = cap = 0;
  assert_int_equal(weft_hostlist_expand("n[1-65536]", WEFT_HOSTLIST_MAX, &names, &n, &cap, err, sizeof err), 0);
  assert_int_equal(n, 65536);
  assert_string_equal(names[65535], "n65536");
  weft_hostlist_free(names, n);
}

static void test_expand_errors(void **state) {
  (void)state;
  fails_with("n[1-3", "bad hostlist 'n[1-3': missing ']'");
  fails_with("n1-3]", "bad hostlist 'n1-3]': unexpected ']'");
  fails_with("n[1[2]]", "bad hostlist 'n[1[2]]': nested '['");
  fails_with("n[]", "bad hostlist 'n[]': empty brackets '[]'");
  fails_with("n[a-3]", "bad hostlist 'n[a-3]': bad range 'a-3': expected N or N-M");
  fails_with("n[1-]", "bad hostlist 'n[1-]': bad range '1-': expected N or N-M");
  fails_with("n[1-2-3]", "bad hostlist 'n[1-2-3]': bad range '1-2-3': expected N or N-M");
  fails_with("n[5-3]", "bad hostlist 'n[5-3]': decreasing range '5-3'");
  fails_with("n[1,,2]", "bad hostlist 'n[1,,2]': empty item in brackets");
  fails_with("a,,b", "bad hostlist 'a,,b': empty name");
  fails_with("a,", "bad hostlist 'a,': empty name");
  fails_with("", "bad hostlist '': empty name");
  fails_with("gpu 01", "bad hostlist 'gpu 01': bad character ' ' (host names use letters, digits, '-', '.' and '_')");
  fails_with("n[1234567890]", "bad hostlist 'n[1234567890]': number too long in '1234567890' (at most 9 digits)");
  fails_with("n[1-65537]", "bad hostlist 'n[1-65537]': expands to more than 65536 names");
  fails_with("r[1-300]n[1-300]", "bad hostlist 'r[1-300]n[1-300]': expands to more than 65536 names");
  fails_with("a[1]b[1]c[1]d[1]e[1]f[1]g[1]h[1]i[1]",
             "bad hostlist 'a[1]b[1]c[1]d[1]e[1]f[1]g[1]h[1]i[1]': more than 8 bracket groups in one name");
  char longname[300];
  memset(longname, 'a', 256);
  longname[256] = '\0';
  char want[400];
  snprintf(want, sizeof want, "bad hostlist '%s': host name longer than 255 characters", longname);
  fails_with(longname, want);
  /* the limit counts names already in the array */
  char **names = NULL, err[256];
  size_t n = 0, cap = 0;
  assert_int_equal(weft_hostlist_expand("a[1-3]", 4, &names, &n, &cap, err, sizeof err), 0);
  assert_int_equal(weft_hostlist_expand("b[1-2]", 4, &names, &n, &cap, err, sizeof err), -1);
  assert_string_equal(err, "bad hostlist 'b[1-2]': expands to more than 4 names");
  assert_int_equal(n, 3);
  weft_hostlist_free(names, n);
}

/* Compresses the space-separated names, checks the result, and that it
 * expands back to the same sequence. */
static void compresses_to(const char *list, const char *want) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", list);
  const char *names[512];
  size_t n = 0;
  for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) names[n++] = tok;
  char **out;
  size_t nout;
  assert_int_equal(weft_hostlist_compress(names, n, &out, &nout), 0);
  char got[4096] = "";
  for (size_t i = 0; i < nout; i++) {
    if (i) strcat(got, " ");
    strcat(got, out[i]);
  }
  assert_string_equal(got, want);
  char **back = NULL, err[256];
  size_t nb = 0, cap = 0;
  for (size_t i = 0; i < nout; i++)
    assert_int_equal(weft_hostlist_expand(out[i], WEFT_HOSTLIST_MAX, &back, &nb, &cap, err, sizeof err), 0);
  assert_int_equal(nb, n);
  for (size_t i = 0; i < n; i++) assert_string_equal(back[i], names[i]);
  weft_hostlist_free(back, nb);
  weft_hostlist_free(out, nout);
}

static void test_compress(void **state) {
  (void)state;
  compresses_to("n01 n02 n03 n04", "n[01-04]");
  compresses_to("n1 n2 n3 n7 n10 n11", "n[1-3,7,10-11]");
  compresses_to("login-a", "login-a");
  compresses_to("gpu01", "gpu01");
  compresses_to("a1 b1", "a1 b1");
  compresses_to("n9 n10", "n[9-10]");
  compresses_to("n09 n10", "n[09-10]");
  compresses_to("n09 n010", "n[09,010]");
  compresses_to("n3 n1", "n[3,1]");
  compresses_to("r1n1 r1n2 r2n1 r2n2", "r1n[1-2] r2n[1-2]");
  compresses_to("x1.dc x2.dc x3.dc y", "x[1-3].dc y");
  compresses_to("h20-1 h20-2 login h20-3", "h20-[1-2] login h20-3");
  compresses_to("1001 1002", "[1001-1002]");
  compresses_to("n1 n1", "n[1,1]");
  compresses_to("n1234567890 n1234567891", "n1234567890 n1234567891");
}

static void test_compress_random(void **state) {
  (void)state;
  srand(11);
  for (int round = 0; round < 300; round++) {
    int n = 1 + rand() % 60;
    char store[64][32];
    const char *names[64];
    for (int i = 0; i < n; i++) {
      static const char *const pre[] = {"gpu", "n", "r1n", "x-"};
      int v = rand() % 30, w = 1 + rand() % 3;
      snprintf(store[i], sizeof store[i], "%s%0*d%s", pre[rand() % 4], w, v, rand() % 5 ? "" : ".b");
      names[i] = store[i];
    }
    char **out, **back = NULL, err[256];
    size_t nout, nb = 0, cap = 0;
    assert_int_equal(weft_hostlist_compress(names, (size_t)n, &out, &nout), 0);
    for (size_t i = 0; i < nout; i++)
      assert_int_equal(weft_hostlist_expand(out[i], WEFT_HOSTLIST_MAX, &back, &nb, &cap, err, sizeof err), 0);
    assert_int_equal(nb, (size_t)n);
    for (int i = 0; i < n; i++) assert_string_equal(back[i], names[i]);
    weft_hostlist_free(back, nb);
    weft_hostlist_free(out, nout);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expand),
      cmocka_unit_test(test_expand_errors),
      cmocka_unit_test(test_compress),
      cmocka_unit_test(test_compress_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
