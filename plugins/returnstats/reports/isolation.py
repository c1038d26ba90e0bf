"""Read a package in a child process under hard limits (SPEC §3.1, §8 "the day always
completes").

The readers are bounded (`readers`, `xlsx_bounds`), but they run third-party parsers on
untrusted bytes: a parser that aborts or runs away must cost one package, never the
province's task. So `read_isolated` forks a child that reads the package under an address
space limit (what it inherits plus `Limits.reader_max_memory_bytes`), a CPU limit
(`reader_max_seconds`) and, from the parent, a wall limit (twice the CPU limit). Whatever
ends the child early — a signal, an abort, a `MemoryError`, the clock — rejects the package
with `package.file.resource_limit`, naming the file it was reading.

A plain `fork` (not `multiprocessing`): the child shares the imported modules (no
interpreter start per package), `wait4` gives its own peak memory, and it also works
inside a daemonic pool worker (the bench), where `multiprocessing` refuses children.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import struct
import time
from dataclasses import dataclass

from returnstats.config import Limits
from returnstats.reports.errors import PackageRejected
from returnstats.reports.landing import PackageRef
from returnstats.reports.package import FileCount, Package, census, read_package

RESOURCE_LIMIT = "package.file.resource_limit"
_FRAME = struct.Struct("!cQ")
_FILE, _RESULT, _START = b"F", b"R", b"S"
_CHILD_FAILED = 70


@dataclass
class Reading:
    package: Package | None
    rejection: PackageRejected | None
    census: list[FileCount]
    """The files of a rejected package and their rows, as far as they could be read."""
    peak_rss_bytes: int
    """The child's peak resident memory (`ru_maxrss`), what it shares with the parent included."""
    added_rss_bytes: int
    """Its peak less its resident memory at the start: what reading this package needed."""


def read_isolated(ref: PackageRef, limits: Limits) -> Reading:
    """Read the package in a child process; never raises for anything the input causes.

    An error that is no rejection (a bug) is raised here as a RuntimeError, as a direct
    call would have raised it.
    """
    _warm()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = _CHILD_FAILED
        try:
            os.close(read_end)
            _child(write_end, ref, limits)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    data, timed_out = _collect(read_end, pid, 2 * limits.reader_max_seconds)
    _, status, usage = os.wait4(pid, 0)
    peak = usage.ru_maxrss * 1024
    frames = _frames(data)
    added = peak - int(frames.get(_START, b"0") or 0)
    result = frames.get(_RESULT)
    if result is not None and os.waitstatus_to_exitcode(status) == 0:
        kind, *rest = pickle.loads(result)
        if kind == "package":
            return Reading(rest[0], None, [], peak, added)
        if kind == "rejected":
            return Reading(None, rest[0], rest[1], peak, added)
        if kind == "error":
            raise RuntimeError(f"reading {ref.name} failed: {rest[0]}")
        why = rest[0]  # "limit"
    elif timed_out:
        why = f"ran past its time limit ({2 * limits.reader_max_seconds} s)"
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == _CHILD_FAILED:
        raise RuntimeError(f"the reader of {ref.name} failed before reading (see its log)")
    else:
        why = _ended(status, limits)
    file = frames.get(_FILE, b"").decode("utf-8", "replace") or None
    where = f"{file}: " if file else f"{ref.name}: "
    rejection = PackageRejected(RESOURCE_LIMIT, f"{where}the reader {why}", file)
    return Reading(None, rejection, [FileCount(file, 0)] if file else [], peak, added)


def _warm() -> None:
    """Import in the parent what the readers import lazily: each child then starts with it
    (no import per package, and none that could fail for the child's memory limit)."""
    import python_calamine  # noqa: F401

    from returnstats.reports.package import _manifest_validator

    _manifest_validator()


def _ended(status: int, limits: Limits) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:
            return f"ran past its CPU limit ({limits.reader_max_seconds} s)"
        return f"was ended by {signal.Signals(number).name}"
    return f"ended with exit code {os.waitstatus_to_exitcode(status)}"


def _collect(fd: int, pid: int, seconds: float) -> tuple[bytes, bool]:
    """Everything the child writes until it closes the pipe, or (…, True) when the wall
    limit passes first (the child is then killed)."""
    chunks = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                return b"".join(chunks), True
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
    finally:
        os.close(fd)


def _frames(data: bytes) -> dict[bytes, bytes]:
    """The last frame of each type; a frame cut short (the child was killed) is dropped."""
    frames, offset = {}, 0
    while offset + _FRAME.size <= len(data):
        kind, size = _FRAME.unpack_from(data, offset)
        offset += _FRAME.size
        if offset + size > len(data):
            break
        frames[kind] = data[offset:offset + size]
        offset += size
    return frames


def _write(fd: int, kind: bytes, payload: bytes) -> None:
    view = memoryview(_FRAME.pack(kind, len(payload)) + payload)
    while view:
        view = view[os.write(fd, view):]


def _statm() -> tuple[int, int]:
    """(address space, resident memory) of this process, in bytes."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        size, resident = handle.read().split()[:2]
    page = os.sysconf("SC_PAGE_SIZE")
    return int(size) * page, int(resident) * page


def _limit_self(limits: Limits) -> None:
    """Hard limits on this (child) process: address space, CPU, no core file; and die
    with the parent."""
    space = _statm()[0] + limits.reader_max_memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (space, space))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    used = int(cpu.ru_utime + cpu.ru_stime)
    resource.setrlimit(resource.RLIMIT_CPU, (used + limits.reader_max_seconds,
                                             used + limits.reader_max_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(fd: int, ref: PackageRef, limits: Limits) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the task's handlers are not the child's
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _write(fd, _START, str(_statm()[1]).encode())
    _limit_self(limits)

    def reading(name: str) -> None:
        _write(fd, _FILE, name.encode("utf-8"))

    try:
        try:
            result: tuple = ("package", read_package(ref, limits, reading))
        except PackageRejected as rejection:
            result = ("rejected", rejection, census(ref, limits))
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        payload = pickle.dumps(("limit", f"ran out of memory (limit "
                                         f"{limits.reader_max_memory_bytes} bytes)"))
    except RecursionError:
        payload = pickle.dumps(("limit", "ran past the recursion limit"))
    except Exception as exc:  # a bug, not the input: the parent raises it
        # Its class only: the message of a parser's error may quote a cell.
        payload = pickle.dumps(("error", type(exc).__name__))
    _write(fd, _RESULT, payload)
    os.close(fd)
