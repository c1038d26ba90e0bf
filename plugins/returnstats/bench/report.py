"""The bench's output: one line per measure (`bench.<stage>.<measure> <value> <unit>`), the
targets with PASS/FAIL, a human table, and the same as JSON (docs/bench.md)."""

from __future__ import annotations

import json
import platform
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LINE = re.compile(r"^bench\.(?P<name>[a-z0-9_]+(?:\.[a-z0-9_]+)+) (?P<value>\S+) (?P<unit>\S+)$")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Measure:
    stage: str
    """Dotted stage name: `ingest`, `ingest.read`, `day`, `floor`, `orchestration.airflow`…"""
    measure: str
    """`seconds`, `rows_per_second`, `peak_rss`, `rows`, `ratio`…"""
    value: float
    unit: str

    @property
    def name(self) -> str:
        return f"{self.stage}.{self.measure}"

    def line(self) -> str:
        return f"bench.{self.name} {format_value(self.value)} {self.unit}"


@dataclass(frozen=True)
class Target:
    """A target: `measured` (a measure name) must be ≤ `limit`, or ≥ it when `at_least`
    (a quality figure)."""

    name: str
    measured: str
    limit: float
    unit: str
    value: float | None = None
    at_least: bool = False

    @property
    def sign(self) -> str:
        return ">=" if self.at_least else "<="

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "SKIP"
        met = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "PASS" if met else "FAIL"

    def line(self) -> str:
        shown = "n/a" if self.value is None else format_value(self.value)
        return (f"bench.target.{self.name} {self.verdict} "
                f"{shown}{self.sign}{format_value(self.limit)}{self.unit}")


@dataclass
class Report:
    scale: int
    measures: list[Measure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)

    def add(self, stage: str, measure: str, value: float, unit: str) -> Measure:
        item = Measure(stage, measure, float(value), unit)
        self.measures = [m for m in self.measures if m.name != item.name] + [item]
        return item

    def get(self, name: str) -> float | None:
        for m in self.measures:
            if m.name == name:
                return m.value
        return None

    def judge(self, targets: list[Target]) -> None:
        self.targets = [Target(t.name, t.measured, t.limit, t.unit, self.get(t.measured),
                               t.at_least) for t in targets]

    def lines(self) -> list[str]:
        return [m.line() for m in self.measures] + [t.line() for t in self.targets]

    def table(self) -> str:
        """The human table: one row per stage with its time, throughput and memory."""
        stages: dict[str, dict[str, Measure]] = {}
        for m in self.measures:
            stages.setdefault(m.stage, {})[m.measure] = m
        head = f"{'stage':<28}{'seconds':>10}{'rows/s':>12}{'peak RSS':>12}  other"
        rows = [head, "-" * len(head)]
        for stage, by in stages.items():
            sec = by.pop("seconds", None)
            rps = by.pop("rows_per_second", None)
            rss = by.pop("peak_rss", None)
            other = ", ".join(f"{k}={format_value(v.value)}{'' if v.unit == '1' else ' ' + v.unit}"
                              for k, v in by.items())
            rows.append(f"{stage:<28}"
                        f"{format_value(sec.value) if sec else '':>10}"
                        f"{format_value(round(rps.value)) if rps else '':>12}"
                        f"{(format_value(rss.value) + ' MiB') if rss else '':>12}  {other}")
        if self.targets:
            rows += ["", f"{'target':<28}{'measured':>12}{'limit':>14}  verdict"]
            for t in self.targets:
                shown = "n/a" if t.value is None else format_value(t.value)
                limit = f"{t.sign} {format_value(t.limit)} {t.unit}".rstrip()
                rows.append(f"{t.name:<28}{shown:>12}{limit:>14}  {t.verdict}")
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "machine": self.machine,
            "measures": {m.name: {"value": m.value, "unit": m.unit} for m in self.measures},
            "targets": [{**asdict(t), "verdict": t.verdict} for t in self.targets],
            "notes": self.notes,
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")


def format_value(value: float) -> str:
    """Integers as they are; fractions below 1 (precision, recall) to 4 decimals, others
    to 3, from 100 on to 1."""
    if float(value).is_integer():
        return str(int(value))
    digits = 4 if abs(value) < 1 else 3 if abs(value) < 100 else 1
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits > 1 else f"{value:.1f}"


def parse_lines(text: str) -> dict[str, tuple[str, str]]:
    """`{"ingest.seconds": ("12.3", "s"), "target.day_seconds": ("PASS", "41<=60s")}` from
    bench output; lines that are not bench lines (the table, logs) are skipped."""
    found = {}
    for line in text.splitlines():
        match = LINE.match(line.strip())
        if match:
            found[match["name"]] = (match["value"], match["unit"])
    return found


def machine() -> dict[str, Any]:
    """What the numbers were measured on: cores, memory, CPU model, load."""
    import os

    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        info["loadavg_1m"] = float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        pass
    return info
