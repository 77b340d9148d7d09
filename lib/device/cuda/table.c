/* The cuda backend's ops table (include/weft_device.h). Buffers are
 * CUdeviceptr values passed as void*; streams are CUstream/cudaStream_t.
 * No reduce kernel: without a toolkit there is nothing to compile one with,
 * so weft reduces on the host. */
#include "cuda_private.h"

const weftDevice_t weft_device_cuda = {
    .abiVersion = WEFT_DEVICE_ABI_VERSION,
    .name = "cuda",
    .init = weft__cuda_init,
    .getProperties = weft__cuda_get_properties,
    .memKind = weft__cuda_mem_kind,
    .streamWrap = weft__cuda_stream_wrap,
    .streamCreate = weft__cuda_stream_create,
    .streamDestroy = weft__cuda_stream_destroy,
    .copyToHost = weft__cuda_copy_to_host,
    .copyFromHost = weft__cuda_copy_from_host,
    .eventRecord = weft__cuda_event_record,
    .eventQuery = weft__cuda_event_query,
    .eventWait = weft__cuda_event_wait,
    .eventDestroy = weft__cuda_event_destroy,
    .holdEnqueue = weft__cuda_hold_enqueue,
    .holdRelease = weft__cuda_hold_release,
    .lastError = weft__cuda_last_error,
    .finalize = weft__cuda_finalize,
    .hostAlloc = weft__cuda_host_alloc,
    .hostFree = weft__cuda_host_free,
    .map = weft__cuda_map,
    .unmap = weft__cuda_unmap,
    .copyDevice = weft__cuda_copy_device,
    .reduce = NULL,
    .ipcGetHandle = weft__cuda_ipc_get,
    .ipcOpenHandle = weft__cuda_ipc_open,
    .ipcCloseHandle = weft__cuda_ipc_close,
    .memAlloc = weft__cuda_mem_alloc,
    .memFree = weft__cuda_mem_free,
};
