"""The dependency lock: compile it (`make lock`), check it for drift (`make test`), verify it.

    python scripts/lock.py compile   requirements*.in -> requirements*.txt (uv, with hashes)
    python scripts/lock.py check     offline, fast: the lock matches its inputs (see below)
    python scripts/lock.py verify    recompile into a temporary directory and diff (PyPI or cache)

Inputs: requirements.in (runtime), requirements-dev.in (tests and tools, on top of the
runtime set), constraints/constraints-3.11.txt (Airflow's constraints for the pinned Airflow)
and constraints/overrides.txt (the project's departures from them). The sha256 of the inputs
is recorded in each lock's header; `check` recomputes it and compares the locked versions
with the constraints and overrides. constraints/README.md says more.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNTIME_IN, DEV_IN = "requirements.in", "requirements-dev.in"
RUNTIME_LOCK, DEV_LOCK = "requirements.txt", "requirements-dev.txt"
CONSTRAINTS = "constraints/constraints-3.11.txt"
OVERRIDES = "constraints/overrides.txt"
INPUTS = (RUNTIME_IN, DEV_IN, CONSTRAINTS, OVERRIDES)
PYTHON_VERSION = "3.11"
HASH_LINE = "# inputs-sha256: "
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def inputs_sha256(root: Path = REPO) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a requirements-style file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def requirement_names(path: Path) -> list[str]:
    """Names of the requirements of a .in file (not its -r/-c lines or comments)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(canonical(NAME.match(line).group(1)))
    return names


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        sys.exit("lock: uv not found; install it with `.venv/bin/pip install uv`")
    return found


def _compile(root: Path, source: str, output: str, extra: list[str], quiet: bool) -> None:
    command = [_uv(), "pip", "compile", source, "--output-file", output,
               "--constraints", CONSTRAINTS, "--override", OVERRIDES, *extra,
               "--generate-hashes", "--no-strip-extras", "--python-version", PYTHON_VERSION,
               "--python-platform", "linux", "--custom-compile-command", "make lock"]
    if quiet:
        command.append("--quiet")
    subprocess.run(command, cwd=root, check=True, env={**os.environ, "UV_NO_PROGRESS": "1"})
    lock = root / output
    lines = lock.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [line for line in lines if not line.startswith(HASH_LINE)]
    at = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.insert(at, f"{HASH_LINE}{inputs_sha256(root)}\n")
    lock.write_text("".join(lines), encoding="utf-8")


def compile_lock(root: Path = REPO, quiet: bool = False) -> None:
    """Both locks; an existing lock's versions are kept where the inputs allow (uv prefers them)."""
    _compile(root, RUNTIME_IN, RUNTIME_LOCK, [], quiet)
    # the dev lock keeps the runtime lock's versions
    _compile(root, DEV_IN, DEV_LOCK, ["--constraints", RUNTIME_LOCK], quiet)


def check(root: Path = REPO) -> list[str]:
    """The lock's drift from its inputs, as messages; empty when the lock is current."""
    problems = []
    expected = inputs_sha256(root)
    runtime, dev = pins(root / RUNTIME_LOCK), pins(root / DEV_LOCK)
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        recorded = [line[len(HASH_LINE):].strip() for line in
                    (root / lock).read_text(encoding="utf-8").splitlines()
                    if line.startswith(HASH_LINE)]
        if recorded != [expected]:
            problems.append(f"{lock}: its inputs changed since it was compiled "
                            f"({', '.join(INPUTS)}); run `make lock`")
    overrides = pins(root / OVERRIDES)
    bounds = {**pins(root / CONSTRAINTS), **overrides}
    for lock, locked in ((RUNTIME_LOCK, runtime), (DEV_LOCK, dev)):
        for name, version in sorted(bounds.items()):
            if name in locked and locked[name] != version:
                source = OVERRIDES if name in overrides else CONSTRAINTS
                problems.append(f"{lock}: {name}=={locked[name]} but {source} pins {version}")
    for source, lock, locked in ((RUNTIME_IN, RUNTIME_LOCK, runtime), (DEV_IN, DEV_LOCK, dev)):
        for name in requirement_names(root / source):
            if name not in locked:
                problems.append(f"{lock}: {name} of {source} is not locked")
    for name, version in sorted(runtime.items()):
        if dev.get(name) != version:
            problems.append(f"{DEV_LOCK}: {name}=={dev.get(name)} but {RUNTIME_LOCK} has {version}")
    return problems


def verify(root: Path = REPO) -> list[str]:
    """Recompile a copy of the repository's lock inputs; the differences from the lock."""
    differences = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        (copy / "constraints").mkdir()
        for name in (*INPUTS, RUNTIME_LOCK, DEV_LOCK):
            shutil.copy(root / name, copy / name)
        compile_lock(copy, quiet=True)
        for lock in (RUNTIME_LOCK, DEV_LOCK):
            differences += difflib.unified_diff(
                (root / lock).read_text().splitlines(), (copy / lock).read_text().splitlines(),
                f"{lock} (committed)", f"{lock} (recompiled)", lineterm="")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["compile", "check", "verify"])
    args = parser.parse_args(argv)
    if args.command == "compile":
        compile_lock()
        print(f"lock: {RUNTIME_LOCK} ({len(pins(REPO / RUNTIME_LOCK))} packages) and "
              f"{DEV_LOCK} ({len(pins(REPO / DEV_LOCK))}) compiled")
        return 0
    problems = check() if args.command == "check" else verify()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"lock: {RUNTIME_LOCK} and {DEV_LOCK} match their inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
