/* Shared virtual memory of the opencl backend (OpenCL 2.0).
 *
 * A fine-grained SVM buffer (CL_MEM_SVM_FINE_GRAIN_BUFFER) is addressed by
 * the host and the device through the same pointer, coherent at the
 * synchronization points (the events of the user's queue weft waits for):
 * weft reads and writes it in place, with no map and no copy. A user's own
 * fine-grained SVM pointer is not a cl_mem, so memKind calls it unknown and
 * weft takes it as host memory, which it is to the host. memAlloc hands out
 * such buffers when the device spec asks for them ("svm"), and the backend
 * keeps those in a list so that it can free them and copy them with
 * clEnqueueSVMMemcpy. Coarse-grained SVM needs a map for the host and weft
 * cannot tell its pointers from host memory: it is not supported. */
#undef CL_TARGET_OPENCL_VERSION /* the backend builds for 1.2; this file also calls 2.0's SVM API */
#define CL_TARGET_OPENCL_VERSION 200
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

int weft__ocl_svm_fine(weft_ocl_ctx *c) {
  char version[256] = "";
  if (clGetDeviceInfo(c->device, CL_DEVICE_VERSION, sizeof version - 1, version, NULL) != CL_SUCCESS ||
      strncmp(version, "OpenCL ", 7) != 0 || version[7] < '2')
    return 0; /* SVM came with OpenCL 2.0 */
  cl_device_svm_capabilities caps = 0;
  if (clGetDeviceInfo(c->device, CL_DEVICE_SVM_CAPABILITIES, sizeof caps, &caps, NULL) != CL_SUCCESS) return 0;
  return (caps & CL_DEVICE_SVM_FINE_GRAIN_BUFFER) != 0;
}

static weft_ocl_pinned *find(weft_ocl_ctx *c, const void *p) {
  weft_ocl_pinned *b = c->svm;
  while (b != NULL && !((uintptr_t)p >= (uintptr_t)b->host && (uintptr_t)p < (uintptr_t)b->host + b->bytes))
    b = b->next;
  return b;
}

int weft__ocl_svm_owned(weft_ocl_ctx *c, const void *p) {
  pthread_mutex_lock(&c->svmMu);
  int found = p != NULL && find(c, p) != NULL;
  pthread_mutex_unlock(&c->svmMu);
  return found;
}

weftResult_t weft__ocl_svm_alloc(weft_ocl_ctx *c, size_t bytes, void **out) {
  weft_ocl_pinned *b = calloc(1, sizeof *b);
  if (b == NULL) return weft__ocl_error(c, weftSystemError, "out of memory");
  b->bytes = bytes ? bytes : 1;
  b->host = clSVMAlloc(c->context, CL_MEM_READ_WRITE | CL_MEM_SVM_FINE_GRAIN_BUFFER, b->bytes, 0);
  if (b->host == NULL) {
    free(b);
    return weft__ocl_error(c, weftUnhandledDeviceError, "clSVMAlloc of %zu fine-grained bytes failed", bytes);
  }
  pthread_mutex_lock(&c->svmMu);
  b->next = c->svm;
  c->svm = b;
  pthread_mutex_unlock(&c->svmMu);
  *out = b->host;
  return weftSuccess;
}

/* 1 when p was ours and is freed, 0 when it is not an SVM buffer of ours. */
int weft__ocl_svm_free(weft_ocl_ctx *c, void *p) {
  pthread_mutex_lock(&c->svmMu);
  weft_ocl_pinned **at = &c->svm;
  while (*at != NULL && (*at)->host != p) at = &(*at)->next;
  weft_ocl_pinned *b = *at;
  if (b != NULL) *at = b->next;
  pthread_mutex_unlock(&c->svmMu);
  if (b == NULL) return 0;
  clSVMFree(c->context, b->host);
  free(b);
  return 1;
}

void weft__ocl_svm_release_all(weft_ocl_ctx *c) {
  while (c->svm != NULL) weft__ocl_svm_free(c, c->svm->host);
}

weftResult_t weft__ocl_svm_copy(weft_ocl_ctx *c, weft_ocl_stream *s, void *dst, const void *src, size_t bytes) {
  cl_int err = clEnqueueSVMMemcpy(s->queue, CL_FALSE, dst, src, bytes, 0, NULL, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueSVMMemcpy", err);
  return weft__ocl_submitted(c, s, "clEnqueueSVMMemcpy");
}
