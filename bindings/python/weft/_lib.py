"""Finds and loads libweft, and declares the C functions the package calls.

The library is looked up, first match wins:
  1. WEFT_LIBRARY: a path to libweft.so (or to the folder holding it);
  2. the package's own copy, weft/_libs/libweft.so* (bundled by setup.py
     when WEFT_BUNDLE_LIBRARY was set at install time);
  3. the library of the CMake install that installed this package
     (weft/_install_paths.py, written by `cmake --install`);
  4. the dynamic loader's search path (LD_LIBRARY_PATH, ld.so.cache).
"""
import ctypes
import glob
import os

# The SONAME this package speaks to: libweft.so.<ABI_MAJOR>.
ABI_MAJOR = 0
WEFT_UNIQUE_ID_BYTES = 128
WEFT_CONFIG_MAGIC = 0x77656674
WEFT_CONFIG_UNDEF_INT = -2147483648
WEFT_SPLIT_NOCOLOR = -1
WEFT_SHRINK_DEFAULT = 0
WEFT_SHRINK_ABORT = 1


def _candidates():
    env = os.environ.get("WEFT_LIBRARY")
    if env:
        if os.path.isdir(env):
            return sorted(glob.glob(os.path.join(env, "libweft.so*")))[:1] or [os.path.join(env, "libweft.so")]
        return [env]
    found = []
    here = os.path.dirname(os.path.abspath(__file__))
    found += sorted(glob.glob(os.path.join(here, "_libs", "libweft.so*")))[:1]
    try:
        from . import _install_paths  # written by cmake --install only
        found.append(os.path.normpath(os.path.join(here, _install_paths.LIBRARY)))
    except ImportError:
        pass
    found += ["libweft.so.%d" % ABI_MAJOR, "libweft.so"]
    return found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "weft: cannot load libweft; tried: " + "; ".join(tried) +
        ". Set WEFT_LIBRARY=/path/to/libweft.so, or install weft with CMake, "
        "or put libweft on the loader's path (docs/python.md#finding-libweft)")


lib, library_path = _load()


class UniqueId(ctypes.Structure):
    _fields_ = [("internal", ctypes.c_char * WEFT_UNIQUE_ID_BYTES)]


# Mirror of weftConfig_t (include/weft.h), field for field. libweft reads only
# the fields that `size` covers, so this mirror works with newer libraries
# too; tests/python/test_env.py checks it against weft.h.
class Config(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("magic", ctypes.c_uint),
        ("version", ctypes.c_uint),
        ("blocking", ctypes.c_int),
        ("timeoutMs", ctypes.c_int),
        ("netName", ctypes.c_char_p),
        ("algo", ctypes.c_char_p),
        ("siteName", ctypes.c_char_p),
        ("topoFile", ctypes.c_char_p),
        ("codec", ctypes.c_char_p),
        ("logCallback", ctypes.c_void_p),
        ("logUser", ctypes.c_void_p),
        ("logLevel", ctypes.c_int),
        ("device", ctypes.c_char_p),
        ("deviceNative", ctypes.c_void_p),
        ("crypto", ctypes.c_char_p),
    ]


_vp = ctypes.c_void_p
_int = ctypes.c_int
_size = ctypes.c_size_t
_res = ctypes.c_int  # weftResult_t

# name: (restype, argtypes). ctypes releases the GIL around every call, so a
# blocking collective lets other Python threads run (weftCommAbort included).
_PROTOTYPES = {
    "weftGetVersion": (_res, [ctypes.POINTER(_int)]),
    "weftGetErrorString": (ctypes.c_char_p, [_res]),
    "weftGetLastError": (ctypes.c_char_p, [_vp]),
    "weftGetUniqueId": (_res, [ctypes.POINTER(UniqueId)]),
    "weftUniqueIdToString": (_res, [ctypes.POINTER(UniqueId), ctypes.c_char_p, _size]),
    "weftUniqueIdFromString": (_res, [ctypes.POINTER(UniqueId), ctypes.c_char_p]),
    "weftCommInitRankConfig": (_res, [ctypes.POINTER(_vp), _int, UniqueId, _int, ctypes.POINTER(Config)]),
    "weftCommInitFromEnv": (_res, [ctypes.POINTER(_vp), ctypes.POINTER(Config)]),
    "weftCommDestroy": (_res, [_vp]),
    "weftCommAbort": (_res, [_vp]),
    "weftCommGetAsyncError": (_res, [_vp, ctypes.POINTER(_int)]),
    "weftCommCount": (_res, [_vp, ctypes.POINTER(_int)]),
    "weftCommUserRank": (_res, [_vp, ctypes.POINTER(_int)]),
    "weftCommSplit": (_res, [_vp, _int, _int, ctypes.POINTER(_vp), ctypes.POINTER(Config)]),
    "weftCommShrink": (_res, [_vp, ctypes.POINTER(_int), _int, ctypes.POINTER(_vp), ctypes.POINTER(Config), _int]),
    "weftCommGetGrowId": (_res, [_vp, ctypes.POINTER(UniqueId)]),
    "weftCommGrow": (_res, [_vp, _int, ctypes.POINTER(UniqueId), _int, ctypes.POINTER(_vp), ctypes.POINTER(Config)]),
    "weftStreamCreate": (_res, [ctypes.POINTER(_vp)]),
    "weftStreamSynchronize": (_res, [_vp]),
    "weftStreamQuery": (_res, [_vp]),
    "weftStreamDestroy": (_res, [_vp]),
    "weftStreamFromNative": (_res, [ctypes.POINTER(_vp), _vp, _vp]),
    "weftAllReduce": (_res, [_vp, _vp, _size, _int, _int, _vp, _vp]),
    "weftAllGather": (_res, [_vp, _vp, _size, _int, _vp, _vp]),
    "weftReduceScatter": (_res, [_vp, _vp, _size, _int, _int, _vp, _vp]),
    "weftBroadcast": (_res, [_vp, _vp, _size, _int, _int, _vp, _vp]),
    "weftReduce": (_res, [_vp, _vp, _size, _int, _int, _int, _vp, _vp]),
    "weftAllToAll": (_res, [_vp, _vp, _size, _int, _vp, _vp]),
    "weftGather": (_res, [_vp, _vp, _size, _int, _int, _vp, _vp]),
    "weftScatter": (_res, [_vp, _vp, _size, _int, _int, _vp, _vp]),
    "weftBarrier": (_res, [_vp, _vp]),
    "weftAllGatherV": (_res, [_vp, _vp, _vp, _vp, _int, _vp, _vp]),
    "weftReduceScatterV": (_res, [_vp, _vp, _vp, _int, _int, _vp, _vp]),
    "weftAllToAllV": (_res, [_vp, _vp, _vp, _vp, _vp, _vp, _int, _vp, _vp]),
    "weftCommGetStats": (_res, [_vp, _vp, _size]),
    "weftAlgoName": (ctypes.c_char_p, [_int]),
    "weftSend": (_res, [_vp, _size, _int, _int, _vp, _vp]),
    "weftRecv": (_res, [_vp, _size, _int, _int, _vp, _vp]),
    "weftGroupStart": (_res, []),
    "weftGroupEnd": (_res, []),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        raise ImportError("weft: %s (%s) has no %s: it is older than this package" % (library_path, lib, _name))
    _fn.restype = _restype
    _fn.argtypes = _argtypes


WEFT_STATS_LINK_CLASSES = 3
WEFT_STATS_ALGOS = 16


class Stats(ctypes.Structure):
    """weftCommStats_t (weft.h); the package checks its size against libweft's."""
    _fields_ = [
        ("calls", ctypes.c_uint64),
        ("failedCalls", ctypes.c_uint64),
        ("callsByAlgo", ctypes.c_uint64 * WEFT_STATS_ALGOS),
        ("bytesSent", ctypes.c_uint64 * WEFT_STATS_LINK_CLASSES),
        ("bytesReceived", ctypes.c_uint64 * WEFT_STATS_LINK_CLASSES),
        ("messagesSent", ctypes.c_uint64 * WEFT_STATS_LINK_CLASSES),
        ("codecBytesIn", ctypes.c_uint64),
        ("codecBytesOut", ctypes.c_uint64),
        ("callSeconds", ctypes.c_double),
        ("computeSeconds", ctypes.c_double),
        ("codecSeconds", ctypes.c_double),
        ("retransmits", ctypes.c_uint64),
        ("scratchBytes", ctypes.c_uint64),
    ]


def new_config(timeout_ms=None, net=None, algo=None, site=None, topo_file=None, codec=None,
               log_level=None, device=None, crypto=None):
    """A weftConfig_t as WEFT_CONFIG_INITIALIZER sets it, with the given fields."""
    c = Config()
    c.size = ctypes.sizeof(Config)
    c.magic = WEFT_CONFIG_MAGIC
    c.version = version_code()
    c.blocking = WEFT_CONFIG_UNDEF_INT
    c.timeoutMs = WEFT_CONFIG_UNDEF_INT if timeout_ms is None else c_int_arg("timeout_ms", timeout_ms)
    c.logLevel = WEFT_CONFIG_UNDEF_INT if log_level is None else c_int_arg("log_level", log_level)
    for field, value in (("netName", net), ("algo", algo), ("siteName", site), ("topoFile", topo_file),
                         ("codec", codec), ("device", device), ("crypto", crypto)):
        if value is not None:
            if not isinstance(value, (str, bytes, os.PathLike)):
                raise TypeError("config %s must be a str, not %s" % (field, type(value).__name__))
            value = os.fsencode(value)
            if b"\0" in value:
                raise ValueError("config %s contains a NUL character" % field)
            setattr(c, field, value)
    return c


def c_int_arg(name, value):
    """value as a C int, refusing what a ctypes field would silently truncate."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = value.__index__()
        except AttributeError:
            raise TypeError("%s must be an integer, not %s" % (name, type(value).__name__))
    if not -2**31 < value < 2**31:
        raise ValueError("%s = %d does not fit a C int" % (name, value))
    return value


def version_code():
    v = ctypes.c_int()
    lib.weftGetVersion(ctypes.byref(v))
    return v.value


_loaded_major = version_code() // 10000
if _loaded_major != ABI_MAJOR:
    raise ImportError("weft: %s is version %d.x, this package speaks to %d.x"
                      % (library_path, _loaded_major, ABI_MAJOR))
