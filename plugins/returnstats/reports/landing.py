"""Find submission packages under the landing directory (SPEC §2, landing layout).

`<landing>/<province>/<province>_<YYYYMMDD>_v<N>` as a directory or a `.zip`. Nothing
is followed through a symlink: the scan only uses `os.scandir` entries with
`follow_symlinks=False`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from returnstats.reference import provinces

PACKAGE_NAME = re.compile(r"^(?P<province>\d{2})_(?P<date>\d{8})_v(?P<version>[1-9]\d{0,8})$")
SYMLINK = "package.symlink"
SYMLINKED_FOLDER = "_symlinked-folder"
"""Suffix of the ledger entry of a symlinked province folder (version 0: no package)."""


@dataclass(frozen=True)
class PackageRef:
    name: str
    province: str
    report_date: date
    version: int
    path: Path
    is_zip: bool


@dataclass(frozen=True)
class RejectedEntry:
    """A package-named entry rejected at scan time (a symlink, or a name taken twice)."""

    name: str
    province: str
    report_date: date
    version: int
    reason: str
    detail: str


@dataclass(frozen=True)
class IgnoredEntry:
    """Something under landing that is not a package: reported, never fatal."""

    path: str
    reason: str


@dataclass(frozen=True)
class LandingScan:
    packages: list[PackageRef]
    rejected: list[RejectedEntry]
    ignored: list[IgnoredEntry]


def parse_package_name(name: str) -> tuple[str, date, int] | None:
    """(province, report_date, version) of a package name without `.zip`, or None."""
    match = PACKAGE_NAME.match(name)
    if not match:
        return None
    raw = match["date"]
    try:
        report_date = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None
    return match["province"], report_date, int(match["version"])


def scan_landing(landing: Path, as_of: date | None = None,
                 province: str | None = None) -> LandingScan:
    """Packages with report_date ≤ as_of (all if None), of one province if given.

    Sorted by (province, report_date, version). Entries that are not packages are
    listed in `ignored` (only for the folders scanned); package-named symlinks, names
    present both as a directory and as a `.zip`, and (with `as_of`) a province folder
    that is a symlink are listed in `rejected`.
    """
    landing = Path(landing)
    scan = LandingScan([], [], [])
    if not landing.is_dir():
        return scan
    known = provinces()
    with os.scandir(landing) as entries:
        top = sorted(entries, key=lambda e: e.name)
    for entry in top:
        if province is not None and entry.name != province:
            continue
        if entry.is_symlink() and entry.name in known and as_of is not None:
            # Whatever the province meant to deliver is behind it: recorded, never followed.
            scan.rejected.append(RejectedEntry(
                f"{entry.name}_{as_of:%Y%m%d}{SYMLINKED_FOLDER}", entry.name, as_of, 0, SYMLINK,
                f"the province folder {entry.name} is a symbolic link; it is not followed"))
        elif entry.is_symlink():
            scan.ignored.append(IgnoredEntry(entry.name, SYMLINK))
        elif not entry.is_dir(follow_symlinks=False):
            scan.ignored.append(IgnoredEntry(entry.name, "not a province folder"))
        elif entry.name not in known:
            scan.ignored.append(IgnoredEntry(entry.name, "not a province code"))
        else:
            _scan_province(Path(entry.path), entry.name, as_of, scan)
    scan.packages.sort(key=lambda p: (p.province, p.report_date, p.version))
    scan.rejected.sort(key=lambda r: (r.province, r.report_date, r.version, r.name))
    return scan


def _scan_province(folder: Path, province: str, as_of: date | None, scan: LandingScan) -> None:
    found: dict[str, list[PackageRef]] = {}
    with os.scandir(folder) as entries:
        listing = sorted(entries, key=lambda e: e.name)
    for entry in listing:
        relative = f"{province}/{entry.name}"
        is_zip = entry.name.endswith(".zip")
        parsed = parse_package_name(entry.name[:-4] if is_zip else entry.name)
        if parsed is None:
            reason = SYMLINK if entry.is_symlink() else "not a package name"
            scan.ignored.append(IgnoredEntry(relative, reason))
            continue
        name = entry.name[:-4] if is_zip else entry.name
        pkg_province, report_date, version = parsed
        if pkg_province != province:
            scan.ignored.append(IgnoredEntry(relative, "package in another province's folder"))
            continue
        if as_of is not None and report_date > as_of:
            continue
        if entry.is_symlink():
            scan.rejected.append(RejectedEntry(
                name, province, report_date, version, SYMLINK,
                f"{relative} is a symbolic link; it is not followed"))
            continue
        if is_zip and entry.is_file(follow_symlinks=False):
            pass
        elif not is_zip and entry.is_dir(follow_symlinks=False):
            pass
        else:
            scan.ignored.append(IgnoredEntry(relative, "not a package directory or .zip file"))
            continue
        found.setdefault(name, []).append(
            PackageRef(name, province, report_date, version, Path(entry.path), is_zip))
    for name, refs in found.items():
        if len(refs) == 1:
            scan.packages.append(refs[0])
            continue
        ref = refs[0]
        # A directory and a .zip of one name: which one is the submission is unknowable.
        scan.rejected.append(RejectedEntry(
            name, ref.province, ref.report_date, ref.version, "package.version.conflict",
            f"{province}/{name} is present both as a directory and as a .zip"))
