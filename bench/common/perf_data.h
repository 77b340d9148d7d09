/* What every benchmark of bench/ (weft-perf and its MPI and Gloo peers) puts
 * in its buffers and expects back, and the nccl-tests-style output they
 * share, so that bench/compare.sh compares like with like. Plain C, no
 * libweft: the peers link it with lib/util/size.c and lib/reduce/half.c. */
#ifndef WEFT_BENCH_PERF_DATA_H
#define WEFT_BENCH_PERF_DATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Datatypes and reductions, numbered as weftDataType_t / weftRedOp_t (and NCCL). */
enum { PD_INT8, PD_UINT8, PD_INT32, PD_UINT32, PD_INT64, PD_UINT64, PD_HALF, PD_FLOAT, PD_DOUBLE, PD_BF16, PD_NTYPES };
enum { PD_SUM, PD_PROD, PD_MAX, PD_MIN, PD_AVG, PD_NOPS };

extern const char *const perf_type_names[PD_NTYPES];
extern const size_t perf_type_sizes[PD_NTYPES];
extern const char *const perf_op_names[PD_NOPS];
/* A type's name or one of its aliases (fp32, bf16, ...) -> its number; -1 if none. */
int perf_type_parse(const char *s);
int perf_op_parse(const char *s);
/* Strict decimal in [lo, hi]: 0, or -1 (out untouched). */
int perf_parse_long(const char *s, long lo, long hi, long *out);

/* How inputs are made, by what the collective does with them. */
enum { PD_GEN_COPY, PD_GEN_SUM, PD_GEN_PROD, PD_GEN_MINMAX, PD_GEN_AVG };
int perf_gen_kind(int has_op, int op);
/* Element i of rank's input: a small integer that type dt holds exactly, so
 * every reduction order gives the same result. */
double perf_gen(int kind, int dt, int rank, int nranks, size_t i);
/* v as it reads back after being stored as dt (integers wrap). */
double perf_roundtrip(double v, int dt);
void perf_store(void *buf, size_t i, int dt, double v);
double perf_load(const void *buf, size_t i, int dt);
/* Element i of the reduction (op) over n ranks' inputs. */
double perf_expect_red(int kind, int op, int dt, int n, size_t i);

double perf_now_s(void);
/* The next size of a sweep from size (factor > 1: times factor, else plus
 * step); 0 when the sweep ends (overflow, or 0 * factor). */
size_t perf_next_size(size_t size, long factor, size_t step);
/* The time, algbw, busbw and #wrong columns of one run (#wrong N/A when not
 * checked). */
void perf_print_time(double us, double size, double factor, int checked, uint64_t wrong);
/* The column titles above the rows; algo_column adds weft-perf's "algo". */
void perf_print_columns(int algo_column);

#ifdef __cplusplus
}
#endif

#endif
