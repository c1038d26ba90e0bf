"""Deliver generated packages into a landing zone as they would have arrived by a date."""

from __future__ import annotations

import filecmp
import os
import shutil
from datetime import date
from pathlib import Path


def deliver(sample: Path | str, landing: Path | str, through: date | str) -> list[Path]:
    """Copy every entry of `sample/arrivals/<day>/` with day ≤ `through` into `landing`.

    Idempotent: an identical file already there is left alone. Symlinks are copied as
    symlinks (never followed). Files appear atomically (written aside, then renamed).
    Returns the landing paths written or updated.
    """
    sample, landing = Path(sample), Path(landing)
    through = through if isinstance(through, date) else date.fromisoformat(str(through))
    changed: list[Path] = []
    arrivals = sample / "arrivals"
    days = sorted(p for p in arrivals.iterdir() if p.is_dir() and date.fromisoformat(p.name) <= through)
    for day in days:
        for root, dirs, files in os.walk(day):
            rel = Path(root).relative_to(day)
            (landing / rel).mkdir(parents=True, exist_ok=True)
            for entry in sorted(dirs + files):
                src, dst = Path(root) / entry, landing / rel / entry
                if src.is_symlink():
                    if dst.is_symlink() and os.readlink(dst) == os.readlink(src):
                        continue
                    if dst.is_symlink() or dst.is_file():
                        dst.unlink()
                    os.symlink(os.readlink(src), dst)
                    changed.append(dst)
                elif src.is_file():
                    if dst.is_file() and not dst.is_symlink() and filecmp.cmp(src, dst, shallow=False):
                        continue
                    tmp = dst.with_name(f".{dst.name}.delivering")
                    shutil.copyfile(src, tmp)
                    os.replace(tmp, dst)
                    changed.append(dst)
            dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
    return changed
