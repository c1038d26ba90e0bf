"""Where a zone lives (the warehouse, or the restricted staging zone with the linkage
state): a local directory or an object-store URL (`s3://…`, `gs://…`, `memory://…`, or a
`UPath`/Airflow `ObjectStoragePath`), resolved once by `locate`, and the one way a file is
put there atomically (`put_atomic`). Credentials travel with the root: a UPath made with
fsspec `storage_options` (`config.load_settings(storage_options=…)`), never read here."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Union

TMP_DIR = ".tmp"

Root = Union[str, "os.PathLike[str]", "Location"]
"""A warehouse root: a local path, an fsspec URL, a UPath/ObjectStoragePath, or a Location."""


@dataclass(frozen=True)
class Location:
    """A resolved root: an fsspec filesystem and the root's path within it."""

    fs: Any  # fsspec.AbstractFileSystem
    path: str

    @property
    def is_local(self) -> bool:
        return "file" in _protocols(self.fs)

    @property
    def local_path(self) -> Path:
        if not self.is_local:
            raise ValueError(f"{self.url} is not a local directory")
        return Path(self.path)

    @property
    def url(self) -> str:
        return self.path if self.is_local else self.fs.unstrip_protocol(self.path)

    def join(self, *parts: str) -> str:
        """The path of `parts` under the root, within its filesystem."""
        return "/".join([self.path.rstrip("/"), *parts])

    def url_of(self, relative: str) -> str:
        """The path (local) or URL (object store) of `relative`, for a reader that is not
        this filesystem: DuckDB."""
        path = self.join(relative)
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def exists(self, relative: str) -> bool:
        return self.fresh().exists(self.join(relative))

    def read_bytes(self, relative: str) -> bytes:
        if self.is_local:
            with open(self.join(relative), "rb") as handle:
                return handle.read()
        return self.fs.cat_file(self.join(relative))

    def read_many(self, relatives: list[str]) -> list[bytes]:
        """The bytes of several files, in order (an object store fetches them concurrently)."""
        if not relatives:
            return []
        if self.is_local:
            return [self.read_bytes(r) for r in relatives]
        paths = [self.join(r) for r in relatives]
        found = self.fs.cat(paths, on_error="raise")
        return [found[p] for p in paths]

    def fresh(self) -> Any:
        """The filesystem, its cached listings dropped: another host may have written."""
        if not self.is_local:
            self.fs.invalidate_cache()
        return self.fs

    def glob(self, *parts: str) -> list[str]:
        """The paths (within the filesystem) matching the pattern `parts` under the root,
        listed afresh."""
        return self.fresh().glob(self.join(*parts))

    def files(self, relative: str) -> list[str]:
        """Every file under `relative`, relative to the root (one paginated listing on an
        object store, not one per directory); [] when there is none."""
        prefix = self.path.rstrip("/") + "/"
        self.fresh()
        try:
            found = self.fs.find(self.join(relative))
        except FileNotFoundError:
            return []
        return sorted(p.removeprefix(prefix) for p in found)

    def remove(self, relative: str, recursive: bool = False) -> None:
        """Remove a file (or a directory with `recursive`); nothing when it is absent."""
        try:
            self.fs.rm(self.join(relative), recursive=recursive)
        except FileNotFoundError:
            pass


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def locate(root: Root) -> Location:
    """Resolve a root. A plain path (or `file://` URL) is local; anything with a scheme goes
    through fsspec. UPath and Airflow's ObjectStoragePath carry their own filesystem
    (credentials included), which is used as is."""
    import fsspec

    if isinstance(root, Location):
        return root
    if hasattr(root, "fs") and hasattr(root, "path") and not isinstance(root, Path):
        location = Location(root.fs, str(root.path))
    elif "://" in str(root):
        fs, path = fsspec.core.url_to_fs(str(root))
        location = Location(fs, path)
    else:
        location = Location(fsspec.filesystem("file"), str(Path(root)))
    if location.is_local:
        return Location(location.fs, str(Path(location.path)))
    return location


def is_local(root: Root) -> bool:
    return locate(root).is_local


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AlreadyExists(FileExistsError):
    """An exclusive put found its target taken (another writer got there first)."""


Content = bytes | Callable[[BinaryIO], None]
"""The bytes of a file, or a function writing them to a binary handle (large files)."""


def put_atomic(location: Location, relative: str, content: Content, *,
               exclusive: bool = False) -> str:
    """Write a file at `relative` under the root so that readers see the whole file or
    none; returns its path within the root's filesystem.

    Local: written and fsynced under `<root>/.tmp/`, then linked (exclusive) or renamed into
    place, and the directory fsynced. Object store: one upload of the whole object (a single
    or multipart PUT), which the store makes visible only once complete. `exclusive`
    refuses to replace an existing file (`AlreadyExists`); on an object store that check
    is a conditional PUT (`If-None-Match: *`, s3fs's mode "xb") where the store offers it,
    else a check before the write, safe under the one writer per root that the writer
    lock and the DAG's `max_active_runs=1` make (docs/scaling.md)."""
    write = content if callable(content) else (lambda handle: handle.write(content))
    target = location.join(relative)
    if not location.is_local:
        location.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        if exclusive and "s3" in _protocols(location.fs):
            try:
                with location.fs.open(target, "xb") as handle:
                    write(handle)
            except FileExistsError:
                raise AlreadyExists(target) from None
            return target
        if exclusive and location.fs.exists(target):
            raise AlreadyExists(target)
        with location.fs.open(target, "wb") as handle:
            write(handle)
        return target
    root = location.local_path
    final = root / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = root / TMP_DIR / f"{uuid.uuid4().hex}-{final.name}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(tmp, final)
            except FileExistsError:
                raise AlreadyExists(str(final)) from None
        else:
            os.replace(tmp, final)
        fsync_path(final.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return str(final)
