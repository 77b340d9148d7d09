/* Data-parallel training across two sites with weft.
 *
 * A 64-512-1 MLP (tanh hidden layer, logistic output, 33,793 parameters) learns a
 * synthetic binary classification task: labels come from a fixed random
 * "teacher" network plus noise, so the task is learnable but not perfectly.
 * The training set is sharded across ranks. Every step each rank runs forward
 * and backward on its own minibatch, the gradients are averaged in place with
 * one weftAllReduce(weftAvg), and every rank applies the same momentum-SGD
 * update, so all ranks keep bit-identical weights (checked with a hash).
 *
 * The same model is trained from the same seed once per WAN codec
 * (weftConfig_t.codec; weft applies it only on hops between sites) and the
 * final losses are compared with the uncompressed run.
 *
 *   two_site_train [--steps N] [--codecs none,bf16,int8,topk] [--csv FILE]
 *
 * Without launcher variables it forks 4 ranks here, 2 per site: "dc-a" and
 * "dc-b" are separate fake hosts (WEFT_HOST_ID), so ranks of a site talk over
 * shm and the sites over tcp. Under mpirun/srun/torchrun or with
 * WEFT_RANK/WEFT_NRANKS set, ranks come from weftCommInitFromEnv and sites
 * from WEFT_SITE. Exit status: 0 pass, 1 a codec's loss is off, 2 an error. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

/* 33,793 parameters: a 135 KB gradient, above the 64 KiB from which weft
 * compresses allreduces between sites (WEFT_CODEC_MIN) */
enum { D = 64, H = 512, NPARAMS = D * H + H + H + 1 }; /* W1[D][H], b1[H], w2[H], b2 */
enum { NTRAIN = 8192, NTEST = 2048, BATCH = 32 /* per rank */, MAXCODECS = 8, FORK_RANKS = 4 };
/* The reported training loss is taken on training samples 0..NEVAL-1: the
 * same samples for every codec, and a quarter of the cost of a full pass,
 * which would cost more than the training itself. */
enum { NEVAL = 2048 };
static const double LR = 0.02, MOMENTUM = 0.9, PI = 3.14159265358979323846;
static const uint64_t SEED = 20240611;
/* Verdict: a codec passes when |loss_c - loss_none| <= max(ABS_TOL, REL_TOL * loss_none).
 * Measured on this model at 300 steps, codecs simulated on the two sites'
 * partial sums: changing only the minibatch order moves the final loss
 * (~0.30) by up to 0.012; bf16 and int8 (256-element blocks) by < 0.001;
 * top-k keeping 1% by +0.001 with error feedback, +0.011 without (0.1%
 * without: +0.013). A codec that corrupts the gradient (wrong sign, garbage)
 * ends near 0.69 or worse, and one whose sites disagree fails the weight
 * check. 0.03 is 2.5x both the seed spread and the worst sound variant. The
 * relative term covers short runs, whose losses are still large. */
static const double ABS_TOL = 0.03, REL_TOL = 0.10;

typedef struct {
  int steps, ncodecs;
  const char *codecs[MAXCODECS];
  const char *csv;
} opts_t;

/* ---- deterministic random numbers: splitmix64, Box-Muller ---------------- */
static uint64_t next_u64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double uniform(uint64_t *s) { return ((double)(next_u64(s) >> 11) + 0.5) * 0x1.0p-53; }
static double gauss(uint64_t *s) { return sqrt(-2.0 * log(uniform(s))) * cos(2.0 * PI * uniform(s)); }

/* ---- data: sample i depends only on (SEED, i), so every rank can build its
 * own shard without communication and the data never depends on nranks ---- */
enum { TH = 16 }; /* teacher's hidden width */
static float teacher_w[TH][D], teacher_v[TH];

static void make_teacher(void) {
  uint64_t s = SEED ^ 0x7eac4e7ULL;
  for (int k = 0; k < TH; k++) {
    for (int j = 0; j < D; j++) teacher_w[k][j] = (float)(gauss(&s) / sqrt((double)D) * 1.5);
    teacher_v[k] = (float)gauss(&s);
  }
}

static void make_sample(uint64_t i, float *x, float *y) {
  uint64_t s = SEED * 0x100000001b3ULL + i;
  double f = 0;
  for (int j = 0; j < D; j++) x[j] = (float)gauss(&s);
  for (int k = 0; k < TH; k++) {
    double a = 0;
    for (int j = 0; j < D; j++) a += teacher_w[k][j] * x[j];
    f += teacher_v[k] * tanh(a);
  }
  *y = f + 0.8 * gauss(&s) > 0 ? 1.0f : 0.0f; /* label noise: the best accuracy is < 100% */
}

/* ---- the model: params is one flat vector so the gradient is one allreduce */
#define W1(p) (p)
#define B1(p) ((p) + D * H)
#define W2(p) ((p) + D * H + H)
#define B2(p) ((p) + D * H + 2 * H)

static void init_params(float *p) { /* same seed on every rank: identical start */
  uint64_t s = SEED ^ 0x1417ULL;
  for (int i = 0; i < D * H; i++) W1(p)[i] = (float)(gauss(&s) / sqrt((double)D));
  for (int k = 0; k < H; k++) B1(p)[k] = 0, W2(p)[k] = (float)(gauss(&s) / sqrt((double)H));
  B2(p)[0] = 0;
}

/* Forward one sample; returns the logit z, fills the hidden activations.
 * Loops run over the hidden units innermost (W1 is input-major) so that the
 * compiler can vectorize them without reordering any float sum. */
static double forward(const float *p, const float *x, float *h) {
  double z = B2(p)[0];
  memcpy(h, B1(p), H * sizeof *h);
  for (int j = 0; j < D; j++) {
    const float *w = W1(p) + j * H, xj = x[j];
    for (int k = 0; k < H; k++) h[k] += w[k] * xj;
  }
  for (int k = 0; k < H; k++) h[k] = tanhf(h[k]), z += W2(p)[k] * h[k];
  return z;
}

/* Binary cross-entropy with logits, stable for large |z|. */
static double bce(double z, float y) { return (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y * z; }

/* Mean gradient of the loss over a minibatch of rows idx[] of (X, Y). */
static void backward(const float *p, const float *X, const float *Y, const int *idx, int n, float *g) {
  float h[H], dh[H];
  memset(g, 0, NPARAMS * sizeof *g);
  for (int b = 0; b < n; b++) {
    const float *x = X + (size_t)idx[b] * D;
    double z = forward(p, x, h);
    float dz = (float)((1.0 / (1.0 + exp(-z)) - Y[idx[b]]) / n);
    B2(g)[0] += dz;
    for (int k = 0; k < H; k++) {
      W2(g)[k] += dz * h[k];
      dh[k] = dz * W2(p)[k] * (1 - h[k] * h[k]);
      B1(g)[k] += dh[k];
    }
    for (int j = 0; j < D; j++) {
      float *gw = W1(g) + j * H, xj = x[j];
      for (int k = 0; k < H; k++) gw[k] += dh[k] * xj;
    }
  }
}

/* Loss sum and number correct over n samples. */
static void evaluate(const float *p, const float *X, const float *Y, int n, double *loss, double *correct) {
  float h[H];
  *loss = *correct = 0;
  for (int i = 0; i < n; i++) {
    double z = forward(p, X + (size_t)i * D, h);
    *loss += bce(z, Y[i]);
    *correct += (z > 0) == (Y[i] > 0.5f);
  }
}

/* ---- error handling: print the call, its result and weft's message ------- */
static int g_rank = -1;
static const char *last_error(weftComm_t comm) {
  const char *m = comm ? weftGetLastError(comm) : "";
  return *m ? m : weftGetLastError(NULL); /* init/split errors are per thread */
}
#define TRY(comm, call)                                                                      \
  do {                                                                                       \
    weftResult_t r_ = (call);                                                                \
    if (r_ != weftSuccess) {                                                                 \
      fprintf(stderr, "rank %d: %s failed: %s: %s\n", g_rank, #call, weftGetErrorString(r_), \
              last_error(comm));                                                             \
      goto fail;                                                                             \
    }                                                                                        \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* All ranks must hold bit-identical weights. Allreducing {h, ~h} with Max
 * gives max(h) and ~min(h) in one call; they agree only if every rank's h does. */
static int weights_identical(const float *p, weftComm_t world, int *same) {
  uint64_t h = 0xcbf29ce484222325ULL, v[2];
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < NPARAMS * sizeof *p; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  v[0] = h, v[1] = ~h;
  TRY(world, weftAllReduce(v, v, 2, weftUint64, weftMax, world, NULL));
  *same = v[0] == ~v[1];
  return 0;
fail:
  return -1;
}

/* Metrics go over `world`, whose codec is "none": losses, counts and hashes
 * must be exact, only the gradients take the lossy path. */
typedef struct {
  weftComm_t world;
  int rank, nranks, ntrain, neval, ntest; /* this rank's shard sizes */
  float *Xtr, *Ytr, *Xte, *Yte;
} shard_t;

/* What one training run reports; identical on every rank (all allreduced). */
enum { MAXPTS = 32 };
typedef struct {
  int npts, step[MAXPTS];
  double loss[MAXPTS]; /* training loss (samples < NEVAL, all ranks) at step[k] */
  double acc, ar_ms;   /* held-out accuracy; mean gradient allreduce time */
} result_t;

/* Trains the model once, gradients averaged over `comm`. Returns 0, or -1 on
 * a weft error or diverged weights. */
static int train(const shard_t *d, weftComm_t comm, int steps, result_t *res) {
  static float p[NPARAMS], g[NPARAMS], vel[NPARAMS];
  int idx[BATCH], every = steps >= 10 ? steps / 10 : 1, same; /* ~10 report points */
  uint64_t rng = SEED + 7919u * (uint64_t)d->rank; /* same minibatches for every codec */
  double ar_time = 0, m[2];
  init_params(p);
  memset(vel, 0, sizeof vel);
  res->npts = 0;
  for (int step = 0;; step++) {
    if (step % every == 0 || step == steps) { /* report point */
      evaluate(p, d->Xtr, d->Ytr, d->neval, &m[0], &m[1]); /* its first rows: samples < NEVAL */
      m[1] = d->neval;
      TRY(d->world, weftAllReduce(m, m, 2, weftDouble, weftSum, d->world, NULL));
      res->step[res->npts] = step;
      res->loss[res->npts++] = m[0] / m[1];
      if (weights_identical(p, d->world, &same) != 0) return -1;
      if (!same) { /* every rank sees the same verdict; one message is enough */
        if (d->rank == 0) fprintf(stderr, "weights differ between ranks at step %d\n", step);
        return -1;
      }
    }
    if (step == steps) break;
    for (int b = 0; b < BATCH; b++) idx[b] = (int)(next_u64(&rng) % (uint64_t)d->ntrain);
    backward(p, d->Xtr, d->Ytr, idx, BATCH, g);
    double t0 = now_s();
    TRY(comm, weftAllReduce(g, g, NPARAMS, weftFloat, weftAvg, comm, NULL)); /* in place */
    ar_time += now_s() - t0;
    for (int i = 0; i < NPARAMS; i++) { /* momentum SGD, identical on every rank */
      vel[i] = (float)(MOMENTUM * vel[i] - LR * g[i]);
      p[i] += vel[i];
    }
  }
  evaluate(p, d->Xte, d->Yte, d->ntest, &m[0], &m[1]);
  m[0] = m[1], m[1] = d->ntest; /* correct, count */
  TRY(d->world, weftAllReduce(m, m, 2, weftDouble, weftSum, d->world, NULL));
  res->acc = m[0] / m[1];
  m[0] = ar_time * 1e3 / steps;
  TRY(d->world, weftAllReduce(m, m, 1, weftDouble, weftAvg, d->world, NULL));
  res->ar_ms = m[0];
  return 0;
fail:
  return -1;
}

/* Rank 0: the loss table (one column per codec) and the optional CSV file. */
static int print_table(const opts_t *o, const shard_t *d, const result_t *res) {
  printf("two-site training: %d ranks, MLP %d-%d-1 (%d params), %d train / %d held-out samples,\n"
         "%d steps x %d samples per rank, momentum SGD; training loss on %d samples:\n\n%6s",
         d->nranks, D, H, NPARAMS, NTRAIN, NTEST, o->steps, BATCH, NEVAL, "step");
  for (int c = 0; c < o->ncodecs; c++) printf(" %9s", o->codecs[c]);
  for (int k = 0; k < res[0].npts; k++) {
    printf("\n%6d", res[0].step[k]);
    for (int c = 0; c < o->ncodecs; c++) printf(" %9.4f", res[c].loss[k]);
  }
  printf("\n%6s", "acc %");
  for (int c = 0; c < o->ncodecs; c++) printf(" %9.2f", 100 * res[c].acc);
  printf("   (held-out accuracy)\n%6s", "ms");
  for (int c = 0; c < o->ncodecs; c++) printf(" %9.3f", res[c].ar_ms);
  printf("   (gradient allreduce per step)\n\n");
  if (!o->csv) return 0;
  FILE *f = fopen(o->csv, "w");
  if (!f) {
    perror(o->csv);
    return -1;
  }
  fprintf(f, "step,codec,loss\n");
  for (int c = 0; c < o->ncodecs; c++)
    for (int k = 0; k < res[c].npts; k++) fprintf(f, "%d,%s,%.6f\n", res[c].step[k], o->codecs[c], res[c].loss[k]);
  return fclose(f) == 0 ? 0 : -1;
}

/* 1 if some codec's final loss is off (every rank decides the same), else 0. */
static int verdict(const opts_t *o, int rank, const result_t *res, double secs) {
  int bad = 0, last = res[0].npts - 1;
  double ref = res[0].loss[last], tol = fmax(ABS_TOL, REL_TOL * ref);
  for (int c = 1; c < o->ncodecs; c++) {
    double diff = fabs(res[c].loss[last] - ref);
    if (diff <= tol) continue;
    bad = 1;
    if (rank == 0)
      printf("FAIL: codec %s ends at loss %.4f, %.4f away from none's %.4f (tolerance %.4f)\n",
             o->codecs[c], res[c].loss[last], diff, ref, tol);
  }
  if (!bad && rank == 0)
    printf("PASS: every codec's final loss is within %.4f = max(%.2f, %.0f%% of %.4f) of none's (%.1f s)\n",
           tol, ABS_TOL, 100 * REL_TOL, ref, secs);
  fflush(stdout);
  return bad;
}

/* One rank: connect, build its data shard, train once per codec, report. */
static int run_rank(const opts_t *o, const weftUniqueId *id, int rank, int nranks, const char *site) {
  static result_t res[MAXCODECS];
  double t0 = now_s();
  shard_t d = {0};
  weftComm_t comm = NULL;
  int rc = 2;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.codec = "none"; /* the world comm carries the exact metrics */
  cfg.timeoutMs = 60000; /* a dead peer fails the run in a minute, not five */
  g_rank = rank;
  if (id) {
    cfg.siteName = site;
    TRY(NULL, weftCommInitRankConfig(&d.world, nranks, *id, rank, &cfg));
  } else {
    TRY(NULL, weftCommInitFromEnv(&d.world, &cfg)); /* site from WEFT_SITE */
  }
  TRY(d.world, weftCommUserRank(d.world, &d.rank));
  TRY(d.world, weftCommCount(d.world, &d.nranks));
  g_rank = d.rank;
  if (d.nranks > NTEST) {
    fprintf(stderr, "rank %d: %d ranks is more than the %d held-out samples\n", d.rank, d.nranks, NTEST);
    goto fail;
  }
  /* shard: rank r owns samples r, r + nranks, ... of each set */
  d.ntrain = (NTRAIN - d.rank + d.nranks - 1) / d.nranks;
  d.neval = (NEVAL - d.rank + d.nranks - 1) / d.nranks;
  d.ntest = (NTEST - d.rank + d.nranks - 1) / d.nranks;
  d.Xtr = malloc((size_t)d.ntrain * D * sizeof(float));
  d.Ytr = malloc((size_t)d.ntrain * sizeof(float));
  d.Xte = malloc((size_t)d.ntest * D * sizeof(float));
  d.Yte = malloc((size_t)d.ntest * sizeof(float));
  if (!d.Xtr || !d.Ytr || !d.Xte || !d.Yte) {
    fprintf(stderr, "rank %d: out of memory\n", d.rank);
    goto fail;
  }
  make_teacher();
  for (int i = 0; i < d.ntrain; i++) make_sample((uint64_t)(i * d.nranks + d.rank), d.Xtr + (size_t)i * D, &d.Ytr[i]);
  for (int i = 0; i < d.ntest; i++)
    make_sample((uint64_t)(NTRAIN + i * d.nranks + d.rank), d.Xte + (size_t)i * D, &d.Yte[i]);

  for (int c = 0; c < o->ncodecs; c++) {
    /* Same ranks, new settings: split off a comm whose WAN hops use this codec. */
    weftConfig_t ccfg = WEFT_CONFIG_INITIALIZER;
    ccfg.codec = o->codecs[c];
    /* The codec rides on the hierarchical allreduce. For a 135 KB gradient
     * on the default 10 ms WAN the tuner would pick the one-step direct
     * allreduce (latency-bound) and send it uncoded, so the example forces
     * the hierarchical one to show what each codec does to training. */
    ccfg.algo = "hier";
    TRY(d.world, weftCommSplit(d.world, 0, d.rank, &comm, &ccfg));
    if (train(&d, comm, o->steps, &res[c]) != 0) goto fail;
    TRY(comm, weftCommDestroy(comm)); /* on failure comm stays valid: aborted below */
    comm = NULL;
  }
  if (d.rank == 0 && print_table(o, &d, res) != 0) goto fail;
  rc = verdict(o, d.rank, res, now_s() - t0);
  TRY(d.world, weftCommDestroy(d.world));
  d.world = NULL;
  goto out;
fail: /* abort so that peers blocked on us fail now instead of at the timeout */
  rc = 2;
  if (comm && weftCommAbort(comm) != weftSuccess) fprintf(stderr, "rank %d: abort: %s\n", g_rank, last_error(comm));
  if (d.world && weftCommAbort(d.world) != weftSuccess)
    fprintf(stderr, "rank %d: abort: %s\n", g_rank, last_error(d.world));
out:
  free(d.Xtr), free(d.Ytr), free(d.Xte), free(d.Yte);
  return rc;
}

static int parse(int argc, char **argv, opts_t *o) {
  static char list[256] = "none,bf16,int8,topk";
  o->steps = 300, o->csv = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && !strcmp(argv[i], "--steps")) o->steps = atoi(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--codecs")) snprintf(list, sizeof list, "%s", argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--csv")) o->csv = argv[++i];
    else return -1;
  }
  /* "none" is the baseline every other codec is judged against: always first */
  o->codecs[0] = "none", o->ncodecs = 1;
  for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "none")) continue;
    if (o->ncodecs == MAXCODECS) return -1;
    o->codecs[o->ncodecs++] = t;
  }
  return o->steps >= 1 && o->steps <= 1000000 ? 0 : -1;
}

/* The launcher variables weftCommInitFromEnv reads, as rank/size pairs. */
static int launched_by_env(void) {
  static const char *const v[] = {"WEFT_RANK", "WEFT_NRANKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                                  "PMI_RANK",  "PMI_SIZE",    "SLURM_PROCID",         "SLURM_NTASKS",
                                  "RANK",      "WORLD_SIZE"};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i += 2)
    if (getenv(v[i]) && getenv(v[i + 1])) return 1;
  return 0;
}

int main(int argc, char **argv) {
  opts_t o;
  if (parse(argc, argv, &o) != 0) {
    fprintf(stderr, "usage: %s [--steps N] [--codecs none,bf16,int8,topk] [--csv FILE]\n", argv[0]);
    return 2;
  }
  if (launched_by_env()) return run_rank(&o, NULL, -1, 0, NULL);

  /* Fork the ranks first, then create the id and pipe it to them: creating it
   * starts the rendezvous thread, and forking a process with threads is
   * unsafe (this is what tools/launch does too). */
  static const char *const sites[2] = {"dc-a", "dc-b"};
  int wfd[FORK_RANKS], worst = 0, st;
  pid_t pid[FORK_RANKS];
  fflush(stdout);
  for (int r = 0; r < FORK_RANKS; r++) {
    int p[2];
    if (pipe(p) != 0 || (pid[r] = fork()) < 0) {
      perror("fork");
      return 2; /* children started so far fail at rendezvous and exit */
    }
    if (pid[r] == 0) { /* child: rank r */
      weftUniqueId id;
      const char *site = sites[r * 2 / FORK_RANKS];
      close(p[1]);
      for (int k = 0; k < r; k++) close(wfd[k]);
      /* one fake host per site: shm inside it, tcp between the two */
      setenv("WEFT_HOST_ID", site, 1);
      if (read(p[0], &id, sizeof id) != (ssize_t)sizeof id) return 2;
      close(p[0]);
      return run_rank(&o, &id, r, FORK_RANKS, site);
    }
    close(p[0]);
    wfd[r] = p[1];
  }
  weftUniqueId id;
  int ok = weftGetUniqueId(&id) == weftSuccess;
  if (!ok) fprintf(stderr, "weftGetUniqueId failed: %s\n", weftGetLastError(NULL));
  for (int r = 0; r < FORK_RANKS; r++) {
    if (ok && write(wfd[r], &id, sizeof id) != (ssize_t)sizeof id) ok = 0;
    close(wfd[r]); /* without an id a child's read fails and it exits */
  }
  for (int n = 0; n < FORK_RANKS; n++) {
    pid_t done = waitpid(-1, &st, 0);
    if (done < 0) break;
    int s = WIFEXITED(st) ? WEXITSTATUS(st) : 2;
    if (s > worst) worst = s;
    for (int r = 0; r < FORK_RANKS; r++) {
      if (pid[r] != done) continue;
      pid[r] = 0;
      if (WIFSIGNALED(st)) fprintf(stderr, "rank %d was killed by signal %d\n", r, WTERMSIG(st));
    }
    if (s == 2) /* a broken rank: stop the others instead of waiting for timeouts */
      for (int r = 0; r < FORK_RANKS; r++)
        if (pid[r] > 0) kill(pid[r], SIGTERM);
  }
  return ok ? worst : 2;
}
