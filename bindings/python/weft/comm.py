"""weft.Comm: a communicator and its collectives."""
import ctypes
import os
import threading

from . import _buffers, _lib, errors, group, types
from ._buffers import view
from .errors import InvalidArgumentError
from .stream import Stream

_lib_ = _lib.lib


def get_unique_id():
    """weftGetUniqueId: starts the rendezvous root in this process (a thread
    that serves one communicator) and returns its 128-byte id. Send the bytes
    to every rank by any means; keep this process alive until all joined."""
    uid = _lib.UniqueId()
    errors.check(_lib_.weftGetUniqueId(ctypes.byref(uid)), "get_unique_id")
    return bytes(uid)


def unique_id_to_hex(uid):
    """The 256-hex-digit text form of a unique id (weftUniqueIdToString)."""
    u = _unique_id("unique_id_to_hex", uid)
    buf = ctypes.create_string_buffer(2 * _lib.WEFT_UNIQUE_ID_BYTES + 1)
    errors.check(_lib_.weftUniqueIdToString(ctypes.byref(u), buf, len(buf)), "unique_id_to_hex")
    return buf.value.decode("ascii")


def unique_id_from_hex(text):
    """The id back from its text form (checks its length, digits and magic)."""
    if not isinstance(text, str):
        raise InvalidArgumentError("a unique id's text form is a str, not %s" % type(text).__name__,
                                   "unique_id_from_hex")
    u = _lib.UniqueId()
    errors.check(_lib_.weftUniqueIdFromString(ctypes.byref(u), text.encode("ascii", "replace")),
                 "unique_id_from_hex")
    return bytes(u)


def _unique_id(fn, uid):
    if isinstance(uid, str):
        uid = unique_id_from_hex(uid)
    if not isinstance(uid, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError("the unique id is a %s, not the bytes of weft.get_unique_id() or their "
                                   "hex text" % type(uid).__name__, fn)
    uid = bytes(uid)
    if len(uid) != _lib.WEFT_UNIQUE_ID_BYTES:
        raise InvalidArgumentError("the unique id holds %d bytes, not %d"
                                   % (len(uid), _lib.WEFT_UNIQUE_ID_BYTES), fn)
    u = _lib.UniqueId()
    ctypes.memmove(ctypes.byref(u), uid, len(uid))
    return u


def _config(fn, config):
    try:
        return _lib.new_config(**config)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(str(e), fn) from None


class Comm:
    """A weft communicator.

    Comm(nranks, uid, rank, **config) joins the communicator of the ranks
    that pass the same unique id (weftCommInitRankConfig); blocking until
    every rank is connected. Comm.from_env(**config) takes rank, size and
    rendezvous from the launcher's environment. config: timeout_ms, net,
    algo, site, topo_file, codec, log_level, device, crypto (weftConfig_t's fields;
    unset ones take the environment's defaults).

    A Comm is used from one thread at a time, except abort(). destroy() (or
    leaving a `with` block) frees it; so does garbage collection.
    """

    def __init__(self, nranks, uid, rank, **config):
        fn = "Comm"
        u = _unique_id(fn, uid)
        nranks = _int_arg(fn, "nranks", nranks)
        rank = _int_arg(fn, "rank", rank)
        cfg = _config(fn, config)
        h = ctypes.c_void_p()
        errors.check(_lib_.weftCommInitRankConfig(ctypes.byref(h), nranks, u, rank, ctypes.byref(cfg)), fn)
        self._adopt(h.value)

    @classmethod
    def from_env(cls, **config):
        """weftCommInitFromEnv: WEFT_RANK/WEFT_NRANKS/WEFT_COMM_ID, mpirun's,
        srun's or torchrun's variables (docs/api.md#weftcomminitfromenv)."""
        cfg = _config("Comm.from_env", config)
        h = ctypes.c_void_p()
        errors.check(_lib_.weftCommInitFromEnv(ctypes.byref(h), ctypes.byref(cfg)), "Comm.from_env")
        c = cls.__new__(cls)
        c._adopt(h.value)
        return c

    def _adopt(self, handle):
        self._handle = handle
        self._claim_lock = threading.Lock()
        self._pid = os.getpid()
        n, r = ctypes.c_int(), ctypes.c_int()
        errors.check(_lib_.weftCommCount(handle, ctypes.byref(n)), "Comm", handle)
        errors.check(_lib_.weftCommUserRank(handle, ctypes.byref(r)), "Comm", handle)
        self.nranks = n.value
        self.rank = r.value

    @property
    def size(self):
        return self.nranks

    @property
    def handle(self):
        """The weftComm_t as an int, for C extensions that call libweft on it."""
        return self._live("Comm.handle")

    def _live(self, fn):
        h = self._handle
        if h is None:
            raise InvalidArgumentError("the communicator was destroyed or aborted", fn)
        return h

    # ---- lifecycle ----------------------------------------------------------
    def split(self, color, key=0, **config):
        """weftCommSplit, collective over all ranks: ranks with the same
        color >= 0 form a new Comm ordered by key, then old rank. color None
        (WEFT_SPLIT_NOCOLOR) takes part and returns None. config overrides the
        inherited timeout, log level, algorithm and site."""
        fn = "Comm.split"
        h = self._live(fn)
        color = _lib.WEFT_SPLIT_NOCOLOR if color is None else _int_arg(fn, "color", color)
        key = _int_arg(fn, "key", key)
        cfg = _config(fn, config)
        out = ctypes.c_void_p()
        errors.check(_lib_.weftCommSplit(h, color, key, ctypes.byref(out), ctypes.byref(cfg)), fn, h)
        if not out.value:
            return None
        c = Comm.__new__(Comm)
        c._adopt(out.value)
        return c

    def shrink(self, exclude=(), abort=False, **config):
        """weftCommShrink, on every surviving rank: a new Comm of the ranks
        that are alive and not in exclude, renumbered in order, keeping this
        comm's settings and this rank's error-feedback residuals. abort=True
        (WEFT_SHRINK_ABORT, after a failure): revokes this comm first and
        leaves out the ranks it knows to have failed without waiting for them.
        This comm stays valid: destroy it (docs/failures.md#shrink-and-grow)."""
        fn = "Comm.shrink"
        h = self._live(fn)
        ranks = [_int_arg(fn, "exclude", r) for r in exclude]
        arr = (ctypes.c_int * max(1, len(ranks)))(*ranks)
        cfg = _config(fn, config)
        flags = _lib.WEFT_SHRINK_ABORT if abort else _lib.WEFT_SHRINK_DEFAULT
        out = ctypes.c_void_p()
        errors.check(_lib_.weftCommShrink(h, arr, len(ranks), ctypes.byref(out), ctypes.byref(cfg), flags), fn, h)
        return Comm._of(out.value)

    def grow_id(self):
        """weftCommGetGrowId, on one rank: starts the rendezvous of a grow and
        returns its id (bytes, like get_unique_id's): hand it to the comm's
        other ranks (e.g. broadcast) and to the joiners."""
        fn = "Comm.grow_id"
        h = self._live(fn)
        u = _lib.UniqueId()
        errors.check(_lib_.weftCommGetGrowId(h, ctypes.byref(u)), fn, h)
        return bytes(u)

    def grow(self, nranks, grow_id, **config):
        """weftCommGrow on every rank of this comm: a new Comm of nranks ranks,
        these keeping their numbers, joiners (Comm.join) taking the others."""
        fn = "Comm.grow"
        h = self._live(fn)
        return Comm._grown(fn, h, nranks, grow_id, -1, config)

    @classmethod
    def join(cls, nranks, grow_id, rank, **config):
        """weftCommGrow for a joiner (a new process, e.g. replacing a failed
        rank): takes rank (>= the old comm's size) in the grown Comm, with the
        comm's settings from its rank 0; config gives site, device and log."""
        return Comm._grown("Comm.join", None, nranks, grow_id, _int_arg("Comm.join", "rank", rank), config)

    @staticmethod
    def _grown(fn, h, nranks, grow_id, rank, config):
        u = _unique_id(fn, grow_id)
        nranks = _int_arg(fn, "nranks", nranks)
        cfg = _config(fn, config)
        out = ctypes.c_void_p()
        errors.check(_lib_.weftCommGrow(h, nranks, ctypes.byref(u), rank, ctypes.byref(out), ctypes.byref(cfg)),
                     fn, h)
        return Comm._of(out.value)

    @staticmethod
    def _of(handle):
        c = Comm.__new__(Comm)
        c._adopt(handle)
        return c

    def destroy(self):
        """weftCommDestroy: waits for queued operations, then frees the comm.
        Local, not collective. A second call does nothing."""
        h = self._claim()
        if h is None or self._pid != os.getpid():  # a forked copy has no progress thread
            return
        errors.check(_lib_.weftCommDestroy(h), "Comm.destroy")

    def _claim(self):
        """Takes the handle away from every other caller, so that a destroy
        and an abort in two threads never both free the comm."""
        with self._claim_lock:
            h, self._handle = self._handle, None
        return h

    def abort(self):
        """weftCommAbort, from any thread: fails blocked and queued operations
        with weft.AbortedError, closes connections (peers fail fast), frees
        the comm."""
        h = self._claim()
        if h is None or self._pid != os.getpid():
            return
        r = _lib_.weftCommAbort(h)
        if r == errors.Result.InternalError:  # a call did not return: the comm is kept
            self._handle = h
        errors.check(r, "Comm.abort")

    def async_error(self):
        """weftCommGetAsyncError: weft.Result.Success, or the sticky result
        that broke the communicator."""
        h = self._live("Comm.async_error")
        v = ctypes.c_int()
        errors.check(_lib_.weftCommGetAsyncError(h, ctypes.byref(v)), "Comm.async_error", h)
        return errors.Result(v.value)

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
        if self._handle is None:
            return "<weft.Comm destroyed>"
        return "<weft.Comm rank %d of %d>" % (self.rank, self.nranks)

    # ---- helpers of the calls -------------------------------------------------
    def _stream(self, fn, stream):
        if stream is None:
            return None
        if not isinstance(stream, Stream):
            raise InvalidArgumentError("stream is a %s, not a weft.Stream" % type(stream).__name__, fn)
        return stream._live(fn)

    def _peer(self, fn, name, value):
        v = _int_arg(fn, name, value)
        if not 0 <= v < self.nranks:
            raise InvalidArgumentError("%s %d is not a rank of this communicator (0..%d)"
                                       % (name, v, self.nranks - 1), fn)
        return v

    def _done(self, fn, r, h, stream, bufs):
        """Raises the call's error, or keeps its buffers alive for as long as
        weft may use them: until group_end, or until the stream completes."""
        if r != 0:
            aborted = r == errors.Result.Aborted or self._handle is None  # comm may be freed
            raise errors.make(r, fn, None if aborted else h)
        if group._calls() is not None:
            group.record(h, stream, bufs)
        elif stream is not None:
            stream._hold(bufs)

    def _counts(self, fn, cond, what):
        if not cond:
            raise InvalidArgumentError(what, fn)

    # ---- collectives ----------------------------------------------------------
    # Each call checks its buffers first (contiguous, writable where weft
    # writes, sizes that match the call), so that libweft never sees memory
    # beyond a buffer. An argument error inside a group also makes the group
    # fail (weft.group_end launches nothing), as libweft's own do.

    def allreduce(self, sendbuf, recvbuf=None, op=types.RedOp.sum, *, dtype=None, stream=None):
        """recvbuf = op over all ranks' sendbuf. recvbuf None: in place in
        sendbuf. Returns the buffer holding the result."""
        fn = "allreduce"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            o = _op(fn, op)
            dt = _buffers.resolve_dtype(fn, dtype)
            s = view(fn, "sendbuf", sendbuf, dt, recvbuf is None)
            rv = s if recvbuf is None else view(fn, "recvbuf", recvbuf, dt, True)
            _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
            self._counts(fn, rv.count == s.count, "sendbuf holds %d elements but recvbuf %d"
                         % (s.count, rv.count))
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftAllReduce(s.ptr, rv.ptr, s.count, s.dtype, o, h, sh)
        self._done(fn, r, h, stream, (s, rv))
        return sendbuf if recvbuf is None else recvbuf

    def allgather(self, sendbuf, recvbuf, *, dtype=None, stream=None):
        """Block i of recvbuf (nranks blocks of sendbuf's size) is rank i's
        sendbuf. sendbuf None: in place (this rank's block of recvbuf is its
        input). Returns recvbuf."""
        fn = "allgather"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            dt = _buffers.resolve_dtype(fn, dtype)
            rv = view(fn, "recvbuf", recvbuf, dt, True)
            if sendbuf is None:
                self._counts(fn, rv.count % self.nranks == 0, "in place, recvbuf's %d elements are not "
                             "%d equal blocks" % (rv.count, self.nranks))
                count = rv.count // self.nranks
                sptr, bufs = rv.offset(self.rank * count), (rv,)
            else:
                s = view(fn, "sendbuf", sendbuf, dt, False)
                _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
                self._counts(fn, rv.count == s.count * self.nranks, "recvbuf holds %d elements, not "
                             "nranks (%d) x sendbuf's %d" % (rv.count, self.nranks, s.count))
                count, sptr, bufs = s.count, s.ptr, (s, rv)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftAllGather(sptr, rv.ptr, count, rv.dtype, h, sh)
        self._done(fn, r, h, stream, bufs)
        return recvbuf

    def reducescatter(self, sendbuf, recvbuf=None, op=types.RedOp.sum, *, dtype=None, stream=None):
        """recvbuf = op over all ranks of block `rank` of their sendbuf
        (nranks blocks of recvbuf's size). recvbuf None: in place, the result
        lands in this rank's block of sendbuf. Returns recvbuf (in place:
        sendbuf)."""
        fn = "reducescatter"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            o = _op(fn, op)
            dt = _buffers.resolve_dtype(fn, dtype)
            s = view(fn, "sendbuf", sendbuf, dt, recvbuf is None)
            if recvbuf is None:
                self._counts(fn, s.count % self.nranks == 0, "in place, sendbuf's %d elements are not "
                             "%d equal blocks" % (s.count, self.nranks))
                count = s.count // self.nranks
                rptr, bufs = s.offset(self.rank * count), (s,)
            else:
                rv = view(fn, "recvbuf", recvbuf, dt, True)
                _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
                self._counts(fn, s.count == rv.count * self.nranks, "sendbuf holds %d elements, not "
                             "nranks (%d) x recvbuf's %d" % (s.count, self.nranks, rv.count))
                count, rptr, bufs = rv.count, rv.ptr, (s, rv)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftReduceScatter(s.ptr, rptr, count, s.dtype, o, h, sh)
        self._done(fn, r, h, stream, bufs)
        return sendbuf if recvbuf is None else recvbuf

    def broadcast(self, sendbuf, recvbuf=None, root=0, *, dtype=None, stream=None):
        """Every rank's recvbuf = root's sendbuf. recvbuf None: in place (the
        one buffer is sent on root and written elsewhere). sendbuf may be
        None on the other ranks when recvbuf is given. Returns the buffer
        holding the result."""
        fn = "broadcast"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            root = self._peer(fn, "root", root)
            dt = _buffers.resolve_dtype(fn, dtype)
            if recvbuf is None:
                s = rv = view(fn, "sendbuf", sendbuf, dt, True)
                bufs = (s,)
            else:
                rv = view(fn, "recvbuf", recvbuf, dt, True)
                if sendbuf is None and self.rank == root:
                    raise InvalidArgumentError("sendbuf is None on the root", fn)
                s = rv if sendbuf is None else view(fn, "sendbuf", sendbuf, dt, False)
                _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
                self._counts(fn, s.count == rv.count, "sendbuf holds %d elements but recvbuf %d"
                             % (s.count, rv.count))
                bufs = (s, rv)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        sptr = s.ptr if (self.rank == root or recvbuf is None) else None
        r = _lib_.weftBroadcast(sptr, rv.ptr, rv.count, rv.dtype, root, h, sh)
        self._done(fn, r, h, stream, bufs)
        return sendbuf if recvbuf is None else recvbuf

    def reduce(self, sendbuf, recvbuf=None, op=types.RedOp.sum, root=0, *, dtype=None, stream=None):
        """root's recvbuf = op over all ranks' sendbuf. recvbuf None: in
        place on root. Other ranks' recvbuf is not touched (may be None).
        Returns the result's buffer on root, None elsewhere."""
        fn = "reduce"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            o = _op(fn, op)
            root = self._peer(fn, "root", root)
            dt = _buffers.resolve_dtype(fn, dtype)
            is_root = self.rank == root
            s = view(fn, "sendbuf", sendbuf, dt, recvbuf is None and is_root)
            rv = None
            if is_root:
                rv = s if recvbuf is None else view(fn, "recvbuf", recvbuf, dt, True)
                _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
                self._counts(fn, s.count == rv.count, "sendbuf holds %d elements but recvbuf %d"
                             % (s.count, rv.count))
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftReduce(s.ptr, rv.ptr if rv else None, s.count, s.dtype, o, root, h, sh)
        self._done(fn, r, h, stream, (s, rv))
        if not is_root:
            return None
        return sendbuf if recvbuf is None else recvbuf

    def alltoall(self, sendbuf, recvbuf, *, dtype=None, stream=None):
        """Block j of sendbuf (nranks equal blocks) goes to rank j; block i of
        recvbuf comes from rank i. Not in place. Returns recvbuf."""
        fn = "alltoall"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            dt = _buffers.resolve_dtype(fn, dtype)
            s = view(fn, "sendbuf", sendbuf, dt, False)
            rv = view(fn, "recvbuf", recvbuf, dt, True)
            _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
            self._counts(fn, s.count == rv.count, "sendbuf holds %d elements but recvbuf %d"
                         % (s.count, rv.count))
            self._counts(fn, s.count % self.nranks == 0, "the buffers' %d elements are not %d equal "
                         "blocks" % (s.count, self.nranks))
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftAllToAll(s.ptr, rv.ptr, s.count // self.nranks, s.dtype, h, sh)
        self._done(fn, r, h, stream, (s, rv))
        return recvbuf

    def gather(self, sendbuf, recvbuf=None, root=0, *, dtype=None, stream=None):
        """Block i of root's recvbuf (nranks blocks of sendbuf's size) is rank
        i's sendbuf; recvbuf is only needed on root. sendbuf None on root: in
        place (its block of recvbuf is its input). Returns recvbuf on root,
        None elsewhere."""
        fn = "gather"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            root = self._peer(fn, "root", root)
            dt = _buffers.resolve_dtype(fn, dtype)
            is_root = self.rank == root
            rv = view(fn, "recvbuf", recvbuf, dt, True) if is_root else None
            if is_root and rv is None:
                raise InvalidArgumentError("recvbuf is None on the root", fn)
            if sendbuf is None:
                if not is_root:
                    raise InvalidArgumentError("sendbuf is None on a rank that is not the root", fn)
                self._counts(fn, rv.count % self.nranks == 0, "in place, recvbuf's %d elements are not "
                             "%d equal blocks" % (rv.count, self.nranks))
                count = rv.count // self.nranks
                sptr, sdt, bufs = rv.offset(self.rank * count), rv.dtype, (rv,)
            else:
                sv = view(fn, "sendbuf", sendbuf, dt, False)
                count, sptr, sdt, bufs = sv.count, sv.ptr, sv.dtype, (sv, rv)
                if is_root:
                    _buffers.same_dtype(fn, sv, "sendbuf", rv, "recvbuf")
                    self._counts(fn, rv.count == sv.count * self.nranks, "recvbuf holds %d elements, not "
                                 "nranks (%d) x sendbuf's %d" % (rv.count, self.nranks, sv.count))
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftGather(sptr, rv.ptr if rv else None, count, sdt, root, h, sh)
        self._done(fn, r, h, stream, bufs)
        return recvbuf if is_root else None

    def scatter(self, sendbuf, recvbuf, root=0, *, dtype=None, stream=None):
        """Block i of root's sendbuf (nranks blocks of recvbuf's size; only
        read on root, may be None elsewhere) lands in rank i's recvbuf.
        Returns recvbuf."""
        fn = "scatter"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            root = self._peer(fn, "root", root)
            dt = _buffers.resolve_dtype(fn, dtype)
            rv = view(fn, "recvbuf", recvbuf, dt, True)
            sv = None
            if self.rank == root:
                if sendbuf is None:
                    raise InvalidArgumentError("sendbuf is None on the root", fn)
                sv = view(fn, "sendbuf", sendbuf, dt, False)
                _buffers.same_dtype(fn, sv, "sendbuf", rv, "recvbuf")
                self._counts(fn, sv.count == rv.count * self.nranks, "sendbuf holds %d elements, not "
                             "nranks (%d) x recvbuf's %d" % (sv.count, self.nranks, rv.count))
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftScatter(sv.ptr if sv else None, rv.ptr, rv.count, rv.dtype, root, h, sh)
        self._done(fn, r, h, stream, (sv, rv))
        return recvbuf

    def barrier(self, *, stream=None):
        """Returns once every rank has called it (with a stream: completes
        there once every rank's barrier is reached in its stream's order)."""
        fn = "barrier"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftBarrier(h, sh)
        self._done(fn, r, h, stream, ())

    def _sizes(self, fn, name, values):
        """A list of nranks non-negative ints as a size_t array."""
        try:
            vals = [int(v) for v in values]
        except (TypeError, ValueError):
            raise InvalidArgumentError("%s must be %d integers" % (name, self.nranks), fn) from None
        if len(vals) != self.nranks or any(v < 0 for v in vals):
            raise InvalidArgumentError("%s must be %d integers >= 0, got %r" % (name, self.nranks, values), fn)
        return (ctypes.c_size_t * self.nranks)(*vals), vals

    def allgatherv(self, sendbuf, recvbuf, recvcounts, displs=None, *, dtype=None, stream=None):
        """Rank i's block (recvcounts[i] elements) lands at displs[i] of every
        rank's recvbuf (displs None: back to back). sendbuf holds
        recvcounts[rank] elements; None: in place (this rank's block of
        recvbuf is its input). Returns recvbuf."""
        fn = "allgatherv"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            dt = _buffers.resolve_dtype(fn, dtype)
            rc, rcv = self._sizes(fn, "recvcounts", recvcounts)
            if displs is None:
                displs = [sum(rcv[:i]) for i in range(self.nranks)]
            dp, dpv = self._sizes(fn, "displs", displs)
            rv = view(fn, "recvbuf", recvbuf, dt, True)
            self._counts(fn, all(d + c <= rv.count for d, c in zip(dpv, rcv)),
                         "a block reaches past recvbuf's %d elements" % rv.count)
            if sendbuf is None:
                sptr, bufs = rv.offset(dpv[self.rank]), (rv,)
            else:
                sv = view(fn, "sendbuf", sendbuf, dt, False)
                _buffers.same_dtype(fn, sv, "sendbuf", rv, "recvbuf")
                self._counts(fn, sv.count == rcv[self.rank], "sendbuf holds %d elements, recvcounts[%d] says %d"
                             % (sv.count, self.rank, rcv[self.rank]))
                sptr, bufs = sv.ptr, (sv, rv)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftAllGatherV(sptr, rv.ptr, rc, dp, rv.dtype, h, sh)
        self._done(fn, r, h, stream, bufs)
        return recvbuf

    def reducescatterv(self, sendbuf, recvbuf, recvcounts, op=types.RedOp.sum, *, dtype=None, stream=None):
        """recvbuf = op over all ranks of block `rank` of their sendbuf, whose
        blocks lie back to back with recvcounts[i] elements each. recvbuf None:
        in place, in this rank's block of sendbuf. Returns the result's buffer."""
        fn = "reducescatterv"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            o = _op(fn, op)
            dt = _buffers.resolve_dtype(fn, dtype)
            rc, rcv = self._sizes(fn, "recvcounts", recvcounts)
            s = view(fn, "sendbuf", sendbuf, dt, recvbuf is None)
            self._counts(fn, s.count == sum(rcv), "sendbuf holds %d elements, the blocks add up to %d"
                         % (s.count, sum(rcv)))
            if recvbuf is None:
                rptr, bufs = s.offset(sum(rcv[:self.rank])), (s,)
            else:
                rv = view(fn, "recvbuf", recvbuf, dt, True)
                _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
                self._counts(fn, rv.count == rcv[self.rank], "recvbuf holds %d elements, recvcounts[%d] says %d"
                             % (rv.count, self.rank, rcv[self.rank]))
                rptr, bufs = rv.ptr, (s, rv)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftReduceScatterV(s.ptr, rptr, rc, s.dtype, o, h, sh)
        self._done(fn, r, h, stream, bufs)
        return sendbuf if recvbuf is None else recvbuf

    def alltoallv(self, sendbuf, sendcounts, sdispls, recvbuf, recvcounts, rdispls, *, dtype=None, stream=None):
        """sendcounts[j] elements at sdispls[j] of sendbuf go to rank j; rank
        i's block lands at rdispls[i] of recvbuf (MPI_Alltoallv's order;
        displacements None: back to back). Not in place. Returns recvbuf."""
        fn = "alltoallv"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            dt = _buffers.resolve_dtype(fn, dtype)
            sc, scv = self._sizes(fn, "sendcounts", sendcounts)
            rc, rcv = self._sizes(fn, "recvcounts", recvcounts)
            sd, sdv = self._sizes(fn, "sdispls", sdispls if sdispls is not None else
                                  [sum(scv[:i]) for i in range(self.nranks)])
            rd, rdv = self._sizes(fn, "rdispls", rdispls if rdispls is not None else
                                  [sum(rcv[:i]) for i in range(self.nranks)])
            s = view(fn, "sendbuf", sendbuf, dt, False)
            rv = view(fn, "recvbuf", recvbuf, dt, True)
            _buffers.same_dtype(fn, s, "sendbuf", rv, "recvbuf")
            self._counts(fn, all(d + c <= s.count for d, c in zip(sdv, scv)),
                         "a send block reaches past sendbuf's %d elements" % s.count)
            self._counts(fn, all(d + c <= rv.count for d, c in zip(rdv, rcv)),
                         "a receive block reaches past recvbuf's %d elements" % rv.count)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftAllToAllV(s.ptr, sc, sd, rv.ptr, rc, rd, s.dtype, h, sh)
        self._done(fn, r, h, stream, (s, rv))
        return recvbuf

    def stats(self):
        """weftCommGetStats as a dict: calls, failedCalls, callsByAlgo (name:
        count, the algorithms used), bytesSent/bytesReceived/messagesSent (by
        link class: node, site, wan), codec bytes and seconds."""
        fn = "stats"
        h = self._live(fn)
        st = _lib.Stats()
        r = _lib_.weftCommGetStats(h, ctypes.byref(st), ctypes.sizeof(st))
        if r != 0:
            raise errors.make(r, fn, h)
        classes = ("node", "site", "wan")
        out = {k: getattr(st, k) for k in ("calls", "failedCalls", "codecBytesIn", "codecBytesOut", "callSeconds",
                                           "computeSeconds", "codecSeconds", "retransmits",
                                           "scratchBytes")}
        out["callsByAlgo"] = {}
        for i in range(_lib.WEFT_STATS_ALGOS):
            name = _lib_.weftAlgoName(i)
            if name and st.callsByAlgo[i]:
                out["callsByAlgo"][name.decode()] = st.callsByAlgo[i]
        for k in ("bytesSent", "bytesReceived", "messagesSent"):
            out[k] = dict(zip(classes, getattr(st, k)))
        return out

    def send(self, buf, peer, *, dtype=None, stream=None):
        """Sends buf to peer (matched in order with peer's recv; post
        dependent sends and receives in one group)."""
        fn = "send"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            peer = self._peer(fn, "peer", peer)
            b = view(fn, "buf", buf, _buffers.resolve_dtype(fn, dtype), False)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftSend(b.ptr, b.count, b.dtype, peer, h, sh)
        self._done(fn, r, h, stream, (b,))

    def recv(self, buf, peer, *, dtype=None, stream=None):
        """Receives peer's matching send into buf (same count and dtype).
        Returns buf."""
        fn = "recv"
        h = self._live(fn)
        try:
            sh = self._stream(fn, stream)
            peer = self._peer(fn, "peer", peer)
            b = view(fn, "buf", buf, _buffers.resolve_dtype(fn, dtype), True)
        except InvalidArgumentError as e:
            group.poison(h, e)
            raise
        r = _lib_.weftRecv(b.ptr, b.count, b.dtype, peer, h, sh)
        self._done(fn, r, h, stream, (b,))
        return buf


def _int_arg(fn, name, value):
    try:
        return _lib.c_int_arg(name, value)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(str(e), fn) from None


def _op(fn, op):
    try:
        return types.resolve_op(op)
    except ValueError as e:
        raise InvalidArgumentError(str(e), fn) from None
