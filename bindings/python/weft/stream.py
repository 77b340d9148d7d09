"""weft.Stream: a weft host stream (weftStreamCreate) or a native device queue
wrapped by weftStreamFromNative."""
import ctypes
import os
import threading

from . import _lib, errors


class Stream:
    """Orders asynchronous operations: a call given stream=s returns once the
    operation is queued, and s.synchronize() waits for it. The stream holds
    the buffers of its pending operations, so they stay alive until it has
    completed them (weft reads and writes them in the meantime: do not touch
    them either)."""

    def __init__(self):
        h = ctypes.c_void_p()
        errors.check(_lib.lib.weftStreamCreate(ctypes.byref(h)), "Stream")
        self._init(h.value)

    @classmethod
    def from_native(cls, comm, native_queue=None):
        """A stream on comm's device queue (a cl_command_queue or CUstream
        address, as an int); with the host device native_queue is None."""
        h = ctypes.c_void_p()
        handle = comm._live("Stream.from_native")
        errors.check(_lib.lib.weftStreamFromNative(ctypes.byref(h), handle, native_queue),
                     "Stream.from_native", handle)
        s = cls.__new__(cls)
        s._init(h.value)
        return s

    def _init(self, handle):
        self._handle = handle
        self._pid = os.getpid()
        self._pending = []  # buffers of queued operations
        self._lock = threading.Lock()

    @property
    def handle(self):
        """The weftStream_t as an int (for C extensions that share the stream)."""
        return self._live("Stream.handle")

    def _live(self, fn):
        if self._handle is None:
            raise errors.InvalidArgumentError("the stream was destroyed", fn)
        return self._handle

    def _hold(self, bufs):
        with self._lock:
            self._pending.extend(bufs)

    def _release(self, upto):
        with self._lock:
            del self._pending[:upto]

    def synchronize(self):
        """Waits for every operation queued so far; raises the stream's first
        error (sticky: create a new stream after one)."""
        h = self._live("Stream.synchronize")
        n = len(self._pending)
        errors.check(_lib.lib.weftStreamSynchronize(h), "Stream.synchronize")
        self._release(n)

    def query(self):
        """True when every queued operation has completed, False while some
        are pending; raises the stream's first error."""
        h = self._live("Stream.query")
        n = len(self._pending)
        r = _lib.lib.weftStreamQuery(h)
        if r == errors.Result.InProgress:
            return False
        errors.check(r, "Stream.query")
        self._release(n)
        return True

    def destroy(self):
        """Synchronizes, then frees the stream. If the synchronize timed out
        the stream is not freed (operations still use it) and this raises."""
        if self._handle is None:
            return
        if self._pid != os.getpid():  # a forked copy: the stream is the parent's
            self._handle = None
            return
        r = _lib.lib.weftStreamDestroy(self._handle)
        if r == errors.Result.Timeout:
            raise errors.make(r, "Stream.destroy")
        self._handle = None
        self._pending = []
        errors.check(r, "Stream.destroy")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    def __del__(self):
        try:
            self.destroy()
        except Exception:
            pass

    def __repr__(self):
        return "<weft.Stream %s>" % ("destroyed" if self._handle is None else hex(self._handle))
