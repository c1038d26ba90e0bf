"""Open only regular files (SPEC §3.1): a fifo, socket or device in the landing zone would
block a reader forever or read without end, and a symlink would lead out of it.

`open_regular` never blocks and never follows a link: `lstat` first, then
`open(O_NOFOLLOW | O_NONBLOCK)`, then `fstat` of what was opened (the entry may have been
swapped between the two).
"""

from __future__ import annotations

import errno
import os
import stat

NOT_REGULAR = "package.file.not_regular"


def kind_of(mode: int) -> str:
    """What a non-regular entry is, in words."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


class NotRegular(Exception):
    """The entry exists but is no regular file; `what` says what it is."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def open_regular(path: os.PathLike | str) -> int:
    """A read-only descriptor of the regular file at `path` (blocking again once open).

    Raises FileNotFoundError when absent, NotRegular for anything else.
    """
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegular(kind_of(mode))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # swapped for a link; a socket
            raise NotRegular("not a regular file") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegular(kind_of(mode))
    os.set_blocking(fd, True)
    return fd
