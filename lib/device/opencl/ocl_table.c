/* The "opencl" device backend's ops table (include/weft_device.h). No IPC
 * handles: OpenCL has no portable way to share a buffer between processes. */
#include "ocl.h"

const weftDevice_t weft_device_opencl = {
    .abiVersion = WEFT_DEVICE_ABI_VERSION,
    .name = "opencl",
    .init = weft__ocl_init,
    .getProperties = weft__ocl_properties,
    .memKind = weft__ocl_mem_kind,
    .streamWrap = weft__ocl_stream_wrap,
    .streamCreate = weft__ocl_stream_create,
    .streamDestroy = weft__ocl_stream_destroy,
    .copyToHost = weft__ocl_copy_to_host,
    .copyFromHost = weft__ocl_copy_from_host,
    .eventRecord = weft__ocl_event_record,
    .eventQuery = weft__ocl_event_query,
    .eventWait = weft__ocl_event_wait,
    .eventDestroy = weft__ocl_event_destroy,
    .holdEnqueue = weft__ocl_hold_enqueue,
    .holdRelease = weft__ocl_hold_release,
    .lastError = weft__ocl_last_error,
    .finalize = weft__ocl_finalize,
    .hostAlloc = weft__ocl_host_alloc,
    .hostFree = weft__ocl_host_free,
    .map = weft__ocl_map,
    .unmap = weft__ocl_unmap,
    .copyDevice = weft__ocl_copy_device,
    .reduce = weft__ocl_reduce,
    .ipcGetHandle = NULL,
    .ipcOpenHandle = NULL,
    .ipcCloseHandle = NULL,
};
