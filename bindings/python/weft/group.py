"""Groups: calls between group_start() and group_end() are recorded, then
launched together (weftGroupStart/weftGroupEnd, per thread, nestable)."""
import contextlib
import threading

from . import _lib, errors

_state = threading.local()


def _calls():
    """The recorded calls of this thread's open group, or None outside one."""
    return getattr(_state, "calls", None)


def record(handle, stream, bufs):
    """Notes a call recorded in the open group: its buffers must live until
    group_end, or until its stream completes when the group queues it there."""
    _state.calls.append((handle, stream, bufs))


def poison(handle, err=None):
    """An argument error the binding found inside a group (or an exception
    in a `with weft.group()` block): makes libweft's group fail too, with a
    call of an invalid datatype, so that group_end launches nothing, as it
    does after an argument error of libweft's own. group_end then raises err."""
    if _calls() is None or handle is None:
        return
    _lib.lib.weftAllReduce(None, None, 0, -1, 0, handle, None)
    if not isinstance(getattr(_state, "failed", None), errors.Error):
        _state.failed = err if err is not None else True


def group_start():
    """Opens a group (or nests one)."""
    errors.check(_lib.lib.weftGroupStart(), "group_start")
    if _calls() is None:
        _state.calls = []
        _state.failed = None
        _state.depth = 0
    _state.depth += 1


def group_end():
    """Closes a group. The outermost one launches the recorded calls: those
    without a stream have completed when it returns; the others are queued on
    the stream of their communicator's first call in the group."""
    depth = getattr(_state, "depth", 0)
    r = _lib.lib.weftGroupEnd()
    if depth == 0:
        errors.check(r, "group_end")
        return
    _state.depth -= 1
    if _state.depth > 0:
        errors.check(r, "group_end")
        return
    calls, _state.calls = _state.calls, None
    failed, _state.failed = _state.failed, None
    if r != 0:
        err = errors.make(r, "group_end")
        if isinstance(failed, errors.Error):
            raise failed from err
        raise err
    first_stream = {}
    for handle, stream, bufs in calls:
        s = first_stream.setdefault(handle, stream)
        if s is not None:
            s._hold(bufs)


@contextlib.contextmanager
def group():
    """with weft.group(): ... -- group_start/group_end around the block."""
    group_start()
    try:
        yield
    except BaseException:
        calls = _calls()
        if calls:
            poison(calls[0][0])
        try:
            group_end()
        except errors.Error:
            pass
        raise
    group_end()
