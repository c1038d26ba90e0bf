"""Read one submission package (SPEC §2, package checks of §3.1).

`read_package` opens a package directory or zip without following symlinks or trusting
zip headers, checks the manifest against `include/schemas/manifest.schema.json`, checks
each listed file's sha256 and row count, and returns its tables of raw text cells with
canonical column names. Every failure is a `PackageRejected` carrying a `package.*` id.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from returnstats.config import INCLUDE, Limits
from returnstats.reports.columns import REQUIRED, canonical_column
from returnstats.reports.errors import PackageRejected
from returnstats.reports.landing import PackageRef
from returnstats.reports.readers import ParsedFile, json_depth, parse_file
from returnstats.reports.regular import NOT_REGULAR, NotRegular, kind_of, open_regular

MANIFEST = "manifest.json"
SCHEMA_PATH = INCLUDE / "schemas" / "manifest.schema.json"


@dataclass
class RawFile:
    kind: str
    name: str
    table: pd.DataFrame
    """One row per data row: canonical columns present (object dtype, `str` or None) and
    `row_number` (int64, from 1)."""
    rows_received: int
    extra_columns: list[str]


@dataclass
class Package:
    ref: PackageRef
    manifest: dict
    content_sha256: str
    """sha256 over the manifest bytes then each file's bytes, in manifest order."""
    files: dict[str, RawFile]


def read_package(ref: PackageRef, limits: Limits,
                 reading: Callable[[str], None] | None = None) -> Package:
    """The package's manifest and files; raises `PackageRejected`. `reading` is told the
    name of each file before it is read (`isolation` names it if the reader dies)."""
    source = _ZipSource(ref, limits) if ref.is_zip else _DirectorySource(ref, limits)
    with source:
        manifest_bytes = source.read(MANIFEST, limits.manifest_max_bytes)
        if manifest_bytes is None:
            raise PackageRejected("package.manifest.missing", f"{ref.name}: no {MANIFEST}", MANIFEST)
        if len(manifest_bytes) > limits.manifest_max_bytes:
            raise PackageRejected("package.manifest.invalid",
                                  f"{MANIFEST} is larger than {limits.manifest_max_bytes} bytes",
                                  MANIFEST)
        manifest = _parse_manifest(manifest_bytes, ref, limits)
        content = hashlib.sha256(manifest_bytes)
        files: dict[str, RawFile] = {}
        for listed in manifest["files"]:
            kind, name = listed["kind"], listed["name"]
            if reading is not None:
                reading(name)
            data = source.read(name, source.file_limit)
            if data is None:
                raise PackageRejected("package.file.missing",
                                      f"{name} is listed in the manifest but absent", name)
            if len(data) > source.file_limit:
                raise PackageRejected(source.too_large_reason,
                                      f"{name} is larger than {source.file_limit} bytes", name)
            content.update(data)
            if hashlib.sha256(data).hexdigest() != listed["sha256"].lower():
                raise PackageRejected("package.file.checksum",
                                      f"{name}: sha256 differs from the manifest", name)
            raw = read_file(kind, name, data, limits)
            if raw.rows_received != listed["rows"]:
                raise PackageRejected(
                    "package.file.row_count",
                    f"{name}: {raw.rows_received} data rows, the manifest says {listed['rows']}",
                    name)
            files[kind] = raw
    return Package(ref, manifest, content.hexdigest(), files)


@dataclass(frozen=True)
class FileCount:
    name: str
    rows: int


def census(ref: PackageRef, limits: Limits) -> list[FileCount]:
    """The data files of a rejected package and their data rows, as far as they can be
    read safely, so that the ledger keeps what was received (SPEC §6).

    Best effort and never raises: unsafe zip entries, symlinks and entries past the size
    limits are skipped, unreadable files count zero rows. File names come from the
    manifest when it parses, else from `workers.*` / `enterprises.*` in the package.
    """
    try:
        if ref.is_zip:
            return _zip_census(ref, limits)
        return _directory_census(ref, limits)
    except Exception:  # untrusted bytes: a census must not turn a rejection into a crash
        return []


def _census_names(manifest: bytes | None, present: list[str]) -> list[tuple[str, str]]:
    """(kind, name) of the data files: listed in the manifest, else found by their stem."""
    try:
        listed = json.loads(manifest)["files"] if manifest else None
        names = [(str(f["kind"]), str(f["name"])) for f in listed]
    except Exception:
        names = [(PurePosixPath(n).stem, n) for n in sorted(present)
                 if PurePosixPath(n).stem in ("workers", "enterprises")]
    return [(kind, name) for kind, name in names if kind in ("workers", "enterprises")]


def _count_rows(kind: str, name: str, data: bytes | None, limits: Limits) -> int:
    if data is None:
        return 0
    try:
        return len(parse_file(data, name, kind, limits).row_numbers)
    except PackageRejected:
        return 0


def _directory_census(ref: PackageRef, limits: Limits) -> list[FileCount]:
    if not stat.S_ISDIR(os.lstat(ref.path).st_mode):
        return []
    source = _DirectorySource(ref, limits)
    present = [e.name for e in os.scandir(ref.path) if e.is_file(follow_symlinks=False)]
    names = _census_names(source.read(MANIFEST, limits.manifest_max_bytes), present)
    return [FileCount(name, _count_rows(kind, name, source.read(name, source.file_limit), limits))
            for kind, name in names if name in present]


def _zip_census(ref: PackageRef, limits: Limits) -> list[FileCount]:
    if stat.S_ISLNK(os.lstat(ref.path).st_mode):
        return []
    with zipfile.ZipFile(ref.path) as archive:
        infos = archive.infolist()[: limits.zip_max_entries]
        safe = {
            info.filename.removeprefix(f"{ref.name}/"): info for info in infos
            if not _unsafe_zip_name(info.filename) and not stat.S_ISLNK(info.external_attr >> 16)
            and info.file_size <= limits.zip_max_ratio * max(info.compress_size, 1)
            and info.file_size <= limits.zip_max_total_bytes
        }

        def read(name: str, limit: int) -> bytes | None:
            info = safe.get(name)
            if info is None:
                return None
            with archive.open(info) as handle:
                data = handle.read(limit + 1)
            return None if len(data) > limit else data

        names = _census_names(read(MANIFEST, limits.manifest_max_bytes), list(safe))
        return [FileCount(name, _count_rows(kind, name, read(name, limits.zip_max_total_bytes), limits))
                for kind, name in names if name in safe]


def read_file(kind: str, name: str, data: bytes, limits: Limits) -> RawFile:
    """A data file's bytes as a `RawFile`: parsed, headers mapped, cells trimmed."""
    parsed = parse_file(data, name, kind, limits)
    return _raw_file(kind, name, parsed)


def _raw_file(kind: str, name: str, parsed: ParsedFile) -> RawFile:
    n_rows = len(parsed.row_numbers)
    positions: dict[str, int] = {}
    extra: list[str] = []
    for position, header in enumerate(parsed.headers):
        canonical = canonical_column(kind, header)
        if canonical is None:
            if header.strip():
                extra.append(header.strip())
            continue
        if canonical in positions:
            first = parsed.headers[positions[canonical]].strip()
            raise PackageRejected(
                "package.file.duplicate_column",
                f"{name}: columns '{first[:60]}' and '{header.strip()[:60]}' are both {canonical}",
                name)
        positions[canonical] = position
    # A JSON file without rows has no keys, hence no header to check: zero rows is valid.
    if parsed.headers or n_rows:
        missing = [c for c in REQUIRED[kind] if c not in positions]
        if missing:
            raise PackageRejected("package.file.missing_column",
                                  f"{name}: required column(s) missing: {', '.join(missing)}",
                                  name)
    columns = {canonical: _trim(parsed.columns[position])
               for canonical, position in positions.items()}
    # The trimmed arrays are new: the table takes them without another copy.
    table = pd.DataFrame(columns, dtype=object, index=pd.RangeIndex(n_rows), copy=False)
    table["row_number"] = np.asarray(parsed.row_numbers, dtype=np.int64)
    return RawFile(kind, name, table, n_rows, extra)


def _trim(cells: np.ndarray) -> np.ndarray:
    """Cells without surrounding whitespace (full-width spaces too); empty → None."""
    try:  # CSV and xlsx cells are all text: the fast path (no intermediate list)
        return np.fromiter((v.strip() or None for v in cells), dtype=object, count=len(cells))
    except AttributeError:  # JSON: a key absent from an object is None
        return np.array([None if v is None else (v.strip() or None) for v in cells],
                        dtype=object)


# ---------------------------------------------------------------- manifest

@lru_cache(maxsize=1)
def _manifest_validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _invalid(detail: str) -> PackageRejected:
    return PackageRejected("package.manifest.invalid", f"{MANIFEST}: {detail}", MANIFEST)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parse_manifest(data: bytes, ref: PackageRef, limits: Limits) -> dict:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid("not UTF-8") from None
    if json_depth(text.encode("utf-8")) > limits.json_max_depth:
        raise _invalid(f"nested deeper than {limits.json_max_depth} levels")
    try:
        manifest = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"not valid JSON ({str(exc)[:120]})") from None
    error = next(iter(sorted(_manifest_validator().iter_errors(manifest),
                             key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise _invalid(f"{where}: {error.message[:200]}")
    # JSON Schema counts 1.0 as an integer; a version or a row count written so is not.
    numbers = [("version", manifest["version"])] + [
        (f"files/{i}/rows", f["rows"]) for i, f in enumerate(manifest["files"])]
    for where, value in numbers:
        if not isinstance(value, int):
            raise _invalid(f"{where}: {value!r} is not an integer")
    try:
        report_date = date.fromisoformat(manifest["report_date"])
        datetime.fromisoformat(manifest["submitted_at"])
    except ValueError as exc:
        raise _invalid(f"not a valid date ({exc})") from None
    stated = (manifest["province"], report_date, manifest["version"])
    if stated != (ref.province, ref.report_date, ref.version):
        raise PackageRejected(
            "package.name_mismatch",
            f"{MANIFEST} says province {stated[0]}, report date {stated[1]}, version "
            f"{stated[2]}; the package is named {ref.name}",
            MANIFEST)
    return manifest


# ---------------------------------------------------------------- package sources

class _DirectorySource:
    """A package directory. Symlinks anywhere inside reject it; none is followed."""

    too_large_reason = "package.file.unparseable"

    def __init__(self, ref: PackageRef, limits: Limits) -> None:
        self.ref = ref
        # Not a zip, but the same bound on what is loaded into memory.
        self.file_limit = limits.zip_max_total_bytes

    def __enter__(self) -> _DirectorySource:
        root = self.ref.path
        try:
            mode = os.lstat(root).st_mode
        except FileNotFoundError:
            raise PackageRejected("package.manifest.missing", f"{self.ref.name} is gone") from None
        if stat.S_ISLNK(mode):
            raise PackageRejected("package.symlink", f"{self.ref.name} is a symbolic link")
        if not stat.S_ISDIR(mode):
            raise PackageRejected("package.manifest.missing", f"{self.ref.name} is not a directory")
        pending = [root]
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        relative = Path(entry.path).relative_to(root).as_posix()
                        raise PackageRejected("package.symlink",
                                              f"{self.ref.name}/{relative} is a symbolic link",
                                              relative)
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif not entry.is_file(follow_symlinks=False):
                        relative = Path(entry.path).relative_to(root).as_posix()
                        what = kind_of(entry.stat(follow_symlinks=False).st_mode)
                        raise PackageRejected(NOT_REGULAR,
                                              f"{self.ref.name}/{relative} is {what}; only "
                                              "regular files are read", relative)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, name: str, limit: int) -> bytes | None:
        """At most limit + 1 bytes of a regular file directly in the package, or None."""
        path = self.ref.path / name
        try:
            fd = open_regular(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except NotRegular as exc:
            if exc.what == "a directory":
                return None
            raise PackageRejected(NOT_REGULAR, f"{name} is {exc.what}; only regular files "
                                  "are read", name) from None
        except OSError as exc:
            raise PackageRejected("package.file.unparseable",
                                  f"{name}: cannot be opened ({exc.strerror})", name) from None
        with os.fdopen(fd, "rb") as handle:
            # read(n) reserves n bytes at once: ask for the size the file has, then for
            # what it may have grown by, never for the whole limit.
            data = handle.read(min(limit, os.fstat(handle.fileno()).st_size) + 1)
            while len(data) <= limit and (more := handle.read(min(limit + 1 - len(data), 1 << 24))):
                data += more
            return data


def _unsafe_zip_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ".." in parts
            or (len(name) > 1 and name[1] == ":"))


class _ZipSource:
    """A package zip, checked from its central directory before anything is expanded."""

    too_large_reason = "package.zip.too_large"

    def __init__(self, ref: PackageRef, limits: Limits) -> None:
        self.ref = ref
        self.limits = limits
        self.file_limit = limits.zip_max_total_bytes
        self.archive: zipfile.ZipFile | None = None
        self.entries: dict[str, zipfile.ZipInfo] = {}
        self.prefix = ""
        self.expanded = 0

    def _reject(self, reason: str, detail: str) -> PackageRejected:
        return PackageRejected(reason, f"{self.ref.name}.zip: {detail}", f"{self.ref.name}.zip")

    def __enter__(self) -> _ZipSource:
        path = self.ref.path
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise PackageRejected("package.symlink", f"{path.name} is a symbolic link")
            fd = open_regular(path)
            self.archive = zipfile.ZipFile(os.fdopen(fd, "rb"))
        except PackageRejected:
            raise
        except NotRegular as exc:
            raise self._reject(NOT_REGULAR, f"is {exc.what}; only regular files are read") \
                from None
        except Exception as exc:  # zipfile on untrusted bytes: BadZipFile, struct.error, …
            raise self._reject("package.file.unparseable",
                               f"not a readable zip ({type(exc).__name__})") from None
        try:
            self._check(self.archive.infolist())
        except BaseException:
            self.archive.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.archive is not None:
            self.archive.close()

    def _check(self, infos: list[zipfile.ZipInfo]) -> None:
        limits = self.limits
        if len(infos) > limits.zip_max_entries:
            raise self._reject("package.zip.too_many_entries",
                               f"{len(infos)} entries, the limit is {limits.zip_max_entries}")
        total = 0
        for info in infos:
            name = info.filename
            if _unsafe_zip_name(name):
                raise self._reject("package.zip.unsafe_path", f"entry '{name[:80]}' is not a safe path")
            if name in self.entries:
                raise self._reject("package.zip.duplicate_entry", f"entry '{name[:80]}' appears twice")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise self._reject("package.zip.symlink", f"entry '{name[:80]}' is a symbolic link")
            if info.file_size > limits.zip_max_ratio * max(info.compress_size, 1):
                raise self._reject("package.zip.too_large",
                                   f"entry '{name[:80]}' expands more than "
                                   f"{limits.zip_max_ratio:g} times")
            total += info.file_size
            self.entries[name] = info
        if total > limits.zip_max_total_bytes:
            raise self._reject("package.zip.too_large",
                               f"entries expand to more than {limits.zip_max_total_bytes} bytes")
        if MANIFEST not in self.entries and f"{self.ref.name}/{MANIFEST}" in self.entries:
            self.prefix = f"{self.ref.name}/"

    def read(self, name: str, limit: int) -> bytes | None:
        """The entry's bytes, reading at most what the limits allow (headers not trusted)."""
        info = self.entries.get(self.prefix + name)
        if info is None or info.is_dir():
            return None
        allowed = min(limit,
                      math.floor(self.limits.zip_max_ratio * max(info.compress_size, 1)),
                      self.limits.zip_max_total_bytes - self.expanded)
        try:
            with self.archive.open(info) as handle:
                data = handle.read(allowed + 1)
        except Exception as exc:  # BadZipFile, bad CRC, zlib.error, encryption: a damaged entry
            raise PackageRejected("package.file.unparseable",
                                  f"{name}: zip entry cannot be read ({type(exc).__name__})",
                                  name) from None
        if len(data) > allowed and allowed < limit:
            raise PackageRejected("package.zip.too_large",
                                  f"{name}: expands past the zip limits", name)
        self.expanded += len(data)
        return data
