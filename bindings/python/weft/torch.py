"""weft as a torch.distributed backend: ``import weft.torch`` registers "weft".

    import torch.distributed as dist
    import weft.torch                       # registers backend "weft"
    dist.init_process_group("weft")         # torchrun, env:// or tcp://
    dist.all_reduce(t)

The backend is a C++ extension (bindings/python/csrc/weft_torch.cpp) built
against the installed libtorch; this module finds and loads it, and hands
c10d's store, rank, size and timeout (and ``pg_options``, an
:class:`Options`) to it. Reference: docs/torch.md.
"""
import glob
import importlib.machinery
import importlib.util
import os
from datetime import timedelta

import torch  # noqa: F401  (torch's pybind types must exist before the extension loads)
import torch.distributed as _dist

from . import _lib

__all__ = ["Options", "ProcessGroupWeft", "extension_path", "BACKEND"]

BACKEND = "weft"
#: default of Options.inline_bytes / WEFT_TORCH_INLINE_BYTES: collectives up to
#: this many bytes run blocking on the caller's thread when nothing else of the
#: group is pending (docs/torch.md, "Small calls run inline")
INLINE_BYTES = 64 << 10


def _find_extension():
    """The first of: $WEFT_TORCH_EXTENSION; a copy inside this package (setup.py,
    cmake --install); one next to the loaded libweft (the build tree)."""
    env = os.environ.get("WEFT_TORCH_EXTENSION")
    if env:
        return env, [env]
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    here = os.path.dirname(os.path.abspath(__file__))
    tried = []
    for folder in (here, os.path.dirname(os.path.realpath(_lib.library_path)),
                   os.path.dirname(os.path.abspath(_lib.library_path))):
        for suffix in suffixes:
            path = os.path.join(folder, "_weft_torch" + suffix)
            tried.append(path)
            if os.path.exists(path):
                return path, tried
    return None, tried


def _load():
    path, tried = _find_extension()
    if path is None:
        raise ImportError("weft.torch: the backend extension _weft_torch was not built; looked for: %s. "
                          "Build it with CMake (WEFT_TORCH=AUTO finds torch; docs/torch.md) or set "
                          "WEFT_TORCH_EXTENSION to its path" % ", ".join(tried))
    loader = importlib.machinery.ExtensionFileLoader("weft._weft_torch", path)
    spec = importlib.util.spec_from_file_location("weft._weft_torch", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module, path


_ext, extension_path = _load()
ProcessGroupWeft = _ext.ProcessGroupWeft


class Options:
    """``pg_options`` of ``init_process_group("weft", pg_options=...)`` and
    ``new_group``: the fields of weftConfig_t (docs/api.md). A field left None
    takes libweft's default, i.e. its environment variable (WEFT_NET,
    WEFT_ALGO, WEFT_SITE, WEFT_TOPO_FILE, WEFT_CODEC, WEFT_DEBUG).

    site may also be a callable ``site(rank) -> str`` or a sequence indexed by
    the rank in the group, so that one script run by torchrun puts its ranks on
    different (fake) sites. timeout_ms, when set, replaces the timeout given to
    init_process_group for weft's waits. inline_bytes: collectives up to this
    many bytes (all their tensors together) run blocking on the calling thread
    when no earlier operation of the group is pending, saving two thread
    hand-offs; 0 queues every operation (default WEFT_TORCH_INLINE_BYTES, else
    INLINE_BYTES = 64 KiB).
    """

    def __init__(self, site=None, topo_file=None, codec=None, net=None, algo=None, log_level=None,
                 timeout_ms=None, inline_bytes=None):
        self.site, self.topo_file, self.codec = site, topo_file, codec
        self.net, self.algo, self.log_level, self.timeout_ms = net, algo, log_level, timeout_ms
        self.inline_bytes = inline_bytes

    def site_of(self, rank):
        s = self.site
        if s is None:
            return ""
        if callable(s):
            s = s(rank)
        elif not isinstance(s, str):
            s = s[rank]
        return str(s)

    def __repr__(self):
        fields = ("site", "topo_file", "codec", "net", "algo", "log_level", "timeout_ms", "inline_bytes")
        return "weft.torch.Options(%s)" % ", ".join(
            "%s=%r" % (f, getattr(self, f)) for f in fields if getattr(self, f) is not None)


def _create(backend_opts, pg_options):
    """c10d's extended creator: (DistributedBackendOptions, pg_options)."""
    o = pg_options if pg_options is not None else Options()
    if not isinstance(o, Options):
        raise TypeError("weft: pg_options must be a weft.torch.Options, not %s" % type(o).__name__)
    rank, size = backend_opts.group_rank, backend_opts.group_size
    timeout = backend_opts.timeout
    if o.timeout_ms is not None:
        timeout = timedelta(milliseconds=int(o.timeout_ms))
    elif not isinstance(timeout, timedelta):
        timeout = timedelta(seconds=float(timeout))
    inline = o.inline_bytes
    if inline is None:
        inline = int(os.environ.get("WEFT_TORCH_INLINE_BYTES", INLINE_BYTES) or 0)
    return ProcessGroupWeft(backend_opts.store, rank, size, timeout, net=o.net or "", algo=o.algo or "",
                            site=o.site_of(rank), topo_file=o.topo_file or "", codec=o.codec or "",
                            log_level=-1 if o.log_level is None else int(o.log_level), inline_bytes=int(inline))


if BACKEND.upper() not in _dist.Backend._plugins:
    _dist.Backend.register_backend(BACKEND, _create, extended_api=True)
