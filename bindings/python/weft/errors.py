"""weft's results as Python exceptions: one weft.Error subclass per weftResult_t."""
import enum

from . import _lib


class Result(enum.IntEnum):
    """weftResult_t."""
    Success = 0
    UnhandledDeviceError = 1
    SystemError = 2
    InternalError = 3
    InvalidArgument = 4
    InvalidUsage = 5
    RemoteError = 6
    InProgress = 7
    Timeout = 8
    Aborted = 9


class Error(Exception):
    """A weft call failed. `result` is the weftResult_t, `message` weft's own
    text (weftGetLastError), `function` the Python call that failed."""
    result = None

    def __init__(self, message, function=None):
        super().__init__("%s: %s" % (function, message) if function else message)
        self.message = message
        self.function = function


class UnhandledDeviceError(Error):
    result = Result.UnhandledDeviceError


class SystemError(Error):  # noqa: A001 - weftSystemError; reach it as weft.SystemError
    result = Result.SystemError


class InternalError(Error):
    result = Result.InternalError


class InvalidArgumentError(Error, ValueError):
    """Also raised by the binding's own checks, before anything reaches libweft."""
    result = Result.InvalidArgument


class InvalidUsageError(Error):
    result = Result.InvalidUsage


class RemoteError(Error):
    result = Result.RemoteError


class InProgressError(Error):
    result = Result.InProgress


class TimeoutError(Error):  # noqa: A001 - weftTimeout; reach it as weft.TimeoutError
    result = Result.Timeout


class AbortedError(Error):
    result = Result.Aborted


_BY_RESULT = {cls.result: cls for cls in (
    UnhandledDeviceError, SystemError, InternalError, InvalidArgumentError, InvalidUsageError,
    RemoteError, InProgressError, TimeoutError, AbortedError)}


def error_string(result):
    """weftGetErrorString: the static description of a result code."""
    return _lib.lib.weftGetErrorString(int(result)).decode("utf-8", "replace")


def last_error(comm_handle=None):
    """weftGetLastError: the comm's last message, or this thread's for None."""
    return _lib.lib.weftGetLastError(comm_handle).decode("utf-8", "replace")


def make(result, function, comm_handle=None):
    """The exception for a failed call, carrying weft's message (read at once:
    the next error overwrites it)."""
    msg = last_error(comm_handle) if comm_handle else ""
    if not msg:
        msg = last_error(None)
    if not msg:
        msg = error_string(result)
    cls = _BY_RESULT.get(result)
    if cls is None:
        err = Error("%s (result %d)" % (msg, result), function)
        err.result = result
        return err
    return cls(msg, function)


def check(result, function, comm_handle=None):
    if result != 0:
        raise make(result, function, comm_handle)
