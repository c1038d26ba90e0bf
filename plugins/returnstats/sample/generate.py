"""Generate a reproducible set of province packages (as they will land, day by day) and the
ground truth the pipeline's output is compared with."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from returnstats.sample import model, truth
from returnstats.sample import reference as ref
from returnstats.sample.packages import (
    ENTERPRISE_COLUMNS,
    RISK_ZH,
    Style,
    format_date,
    format_enterprises,
    format_workers,
    manifest_bytes,
    sha256,
    style_of,
    to_bytes,
    write_package,
)

WORKER_ERRORS = (
    "worker.mode.unknown", "worker.arrival_date.unparseable", "worker.arrival_date.after_report",
    "worker.arrival_date.before_campaign", "worker.destination_province.unknown",
    "worker.origin_county.not_county", "worker.record_id.duplicate", "worker.name.missing",
)
WORKER_WARNINGS = (
    "worker.phone.invalid", "worker.id_number.invalid", "worker.departure_date.after_arrival",
    "worker.origin_risk.elevated", "worker.employer_uscc.invalid",
)
ENTERPRISE_ERRORS = ("enterprise.labour_gap.invalid", "enterprise.workers_supplied.invalid")
ERRORS_PER_RULE_PER_DAY = 4
WARNINGS_PER_RULE_PER_DAY = 4
ENTERPRISE_ERRORS_PER_RULE_PER_DAY = 2
ENTERPRISE_LISTED_SHARE = 0.92
STALE_STATUS_SHARE = 0.08
STRAY_ENTRY = "README.txt"


@dataclass(frozen=True)
class SampleInfo:
    out: Path
    seed: int
    start: date
    days: int
    persons_per_day: int
    campaign_start: date
    report_dates: tuple[date, ...]
    packages: tuple[str, ...] = field(default=())

    @property
    def arrivals(self) -> Path:
        return self.out / "arrivals"

    @property
    def truth(self) -> Path:
        return self.out / "truth"


@dataclass(frozen=True)
class Plan:
    """Which province/day gets which planted package-level situation (day = index from start)."""

    faults: dict[tuple[str, int], str]
    missing: set[tuple[str, int]]
    header_only: set[tuple[str, int]]
    resubmitted: set[tuple[str, int]]
    late: dict[tuple[str, int], int]
    wrong_totals: set[tuple[str, int]]

    @classmethod
    def for_days(cls, days: int) -> Plan:
        def day(i: int) -> int:
            return min(i, days - 1)

        late = {("50", day(1)): 1, ("45", 0): 2}
        return cls(
            faults={("62", 0): "package.name_mismatch", ("42", day(1)): "package.file.checksum",
                    ("14", day(2)): "package.manifest.missing", ("53", day(1)): "package.zip.unsafe_path"},
            missing={("21", day(2))},
            header_only={("15", day(1))},
            resubmitted={("34", 0)} if days >= 2 else set(),
            late={k: lag for k, lag in late.items() if k[1] + lag < days},
            wrong_totals={("44", 0), ("32", day(2))},
        )


def _package_name(province: str, report: date, version: int) -> str:
    return f"{province}_{report:%Y%m%d}_v{version}"


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def generate(out: Path | str, start: date | str = "2020-02-17", days: int = 7,
             persons_per_day: int = 20000, seed: int = 7,
             campaign_start: date | str | None = None, clean: bool = False) -> SampleInfo:
    """Write `out/arrivals/<as-of date>/<province>/<package>` and `out/truth/`.

    `campaign_start` defaults to a week before `start`. Same arguments, same bytes.
    """
    out = Path(out)
    start = _as_date(start)
    campaign_start = _as_date(campaign_start) if campaign_start else start - timedelta(days=7)
    if campaign_start > start:
        raise ValueError("campaign start after the first report date")
    if out.exists() and any(out.iterdir()):
        if not clean:
            raise FileExistsError(f"{out} is not empty (use clean=True / --clean)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    campaign_offset = (campaign_start - start).days
    rng = np.random.default_rng(seed)
    plan = Plan.for_days(days)
    provinces = list(ref.provinces())

    register = model.enterprises(rng)
    people = model.persons(rng, start, days, persons_per_day, register)
    workers = model.records(rng, people, days, campaign_offset)
    enterprises = _enterprise_records(rng, register, provinces, days)

    # Packages: one per province and report day, save the missing ones; v2 of a resubmission.
    rows = []
    for province in provinces:
        for day in range(days):
            if (province, day) in plan.missing:
                continue
            rows.append((province, day, 1, day + plan.late.get((province, day), 0),
                         plan.faults.get((province, day))))
            if (province, day) in plan.resubmitted:
                rows.append((province, day, 2, day + 1, None))
    packages = pd.DataFrame(rows, columns=["province", "report_day", "version", "visible_day", "reason"])
    packages["package"] = [_package_name(p, start + timedelta(days=d), v)
                           for p, d, v in zip(packages["province"], packages["report_day"], packages["version"])]
    packages["status"] = np.where(packages["reason"].isna(), "accepted", "rejected")

    empty = plan.missing | plan.header_only
    drop = pd.Series(list(zip(workers["province"], workers["report_day"]))).isin(empty).to_numpy()
    workers = _number_rows(rng, workers[~drop], start)
    drop = pd.Series(list(zip(enterprises["province"], enterprises["report_day"]))).isin(empty).to_numpy()
    enterprises = enterprises[~drop].reset_index(drop=True)
    enterprises["row_number"] = enterprises.groupby(["province", "report_day"]).cumcount() + 1
    workers["package"] = [_package_name(p, start + timedelta(days=d), 1)
                          for p, d in zip(workers["province"], workers["report_day"])]
    enterprises["package"] = [_package_name(p, start + timedelta(days=d), 1)
                              for p, d in zip(enterprises["province"], enterprises["report_day"])]

    plain = set(packages.loc[packages["reason"].isna() & (packages["version"] == 1), "package"])
    plain -= {_package_name(p, start + timedelta(days=d), 1) for p, d in plan.resubmitted}
    workers["rule"] = ""
    enterprises["rule"] = ""
    _plant_worker_rules(rng, workers, plain, days)
    _plant_enterprise_rules(rng, enterprises, plain, days)
    workers, enterprises = _resubmit(rng, workers, enterprises, plan, start)
    workers["error"] = workers["rule"].isin(WORKER_ERRORS)
    enterprises["error"] = enterprises["rule"].isin(ENTERPRISE_ERRORS)
    workers["file"] = [f"workers.{style_of(p).extension}" for p in workers["province"]]
    enterprises["file"] = [f"enterprises.{style_of(p).extension}" for p in enterprises["province"]]

    files, written = _write_packages(out, packages, workers, enterprises, plan, start, campaign_start)
    (out / "arrivals" / start.isoformat()).mkdir(parents=True, exist_ok=True)
    (out / "arrivals" / start.isoformat() / STRAY_ENTRY).write_text(
        "Uploads for the return-to-work statistics. Not a package.\n", encoding="utf-8")
    workers = workers.merge(written, on=["package", "row_number"], how="inner")

    info = SampleInfo(out, seed, start, days, persons_per_day, campaign_start,
                      tuple(start + timedelta(days=d) for d in range(days)),
                      tuple(sorted(packages["package"])))
    _write_truth(info, plan, packages, workers, enterprises, files, campaign_offset)
    return info


def _enterprise_records(rng: np.random.Generator, register: pd.DataFrame,
                        provinces: list[str], days: int) -> pd.DataFrame:
    """Each province's daily enterprise status list: most of its enterprises, as of the report
    date (a few as of the day before), values a function of the status day."""
    frames = []
    for day in range(days):
        listed = register[rng.random(len(register)) < ENTERPRISE_LISTED_SHARE].copy()
        listed["report_day"] = day
        listed["status_day"] = day - (rng.random(len(listed)) < STALE_STATUS_SHARE)
        listed["workers_supplied"] = model.workers_supplied(listed, listed["status_day"].to_numpy())
        frames.append(listed)
    ent = pd.concat(frames, ignore_index=True)
    ent = ent.sort_values(["province", "report_day"], kind="stable", ignore_index=True)
    return ent[["province", "report_day", "status_day", *[c for c in ENTERPRISE_COLUMNS if c != "status_date"]]]


def _number_rows(rng: np.random.Generator, workers: pd.DataFrame, start: date) -> pd.DataFrame:
    workers = workers.assign(order=rng.random(len(workers)))
    workers = workers.sort_values(["province", "report_day", "order"], ignore_index=True).drop(columns="order")
    workers["row_number"] = workers.groupby(["province", "report_day"]).cumcount() + 1
    ymd = {d: f"{start + timedelta(days=int(d)):%Y%m%d}" for d in workers["report_day"].unique()}
    workers["record_id"] = [f"{p}{ymd[d]}{r:06d}" for p, d, r in
                            zip(workers["province"], workers["report_day"], workers["row_number"])]
    return workers


def _plant(rng: np.random.Generator, frame: pd.DataFrame, eligible: np.ndarray, days: int,
           rules: tuple[str, ...], per_rule: int) -> None:
    for day in range(days):
        candidates = np.flatnonzero(eligible & (frame["report_day"].to_numpy() == day)
                                    & (frame["rule"].to_numpy() == ""))
        k = min(len(candidates), per_rule * len(rules))
        chosen = np.sort(rng.choice(candidates, k, replace=False))
        frame.loc[frame.index[chosen], "rule"] = [rules[i % len(rules)] for i in range(k)]


def _plant_worker_rules(rng: np.random.Generator, workers: pd.DataFrame, plain: set[str], days: int) -> None:
    """At most one planted rule per row; rows with a noisy (invalid) ID are left alone."""
    eligible = (workers["package"].isin(plain) & (workers["row_number"] >= 2)
                & ~workers["id_wrong_digit"]).to_numpy()
    _plant(rng, workers, eligible, days, WORKER_ERRORS, ERRORS_PER_RULE_PER_DAY)
    _plant(rng, workers, eligible, days, WORKER_WARNINGS, WARNINGS_PER_RULE_PER_DAY)
    workers.loc[workers["id_wrong_digit"] & (workers["rule"] == ""), "rule"] = "worker.id_number.invalid"


def _plant_enterprise_rules(rng: np.random.Generator, ent: pd.DataFrame, plain: set[str], days: int) -> None:
    eligible = ent["package"].isin(plain).to_numpy()
    _plant(rng, ent, eligible, days, ENTERPRISE_ERRORS, ENTERPRISE_ERRORS_PER_RULE_PER_DAY)


def _resubmit(rng: np.random.Generator, workers: pd.DataFrame, ent: pd.DataFrame, plan: Plan,
              start: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """v2 = v1 with ~2% of the records removed and ~1% given another mode (record ids kept)."""
    for province, day in plan.resubmitted:
        v1 = _package_name(province, start + timedelta(days=day), 1)
        v2 = _package_name(province, start + timedelta(days=day), 2)
        copy = workers[workers["package"] == v1].copy()
        copy = copy[rng.random(len(copy)) >= 0.02].copy()
        changed = rng.random(len(copy)) < 0.01
        copy.loc[changed, "mode"] = [model.MODES[(model.MODES.index(m) + 1) % 4] for m in copy.loc[changed, "mode"]]
        copy["package"] = v2
        copy["row_number"] = np.arange(1, len(copy) + 1)
        ent_copy = ent[ent["package"] == v1].assign(package=v2)
        workers = pd.concat([workers, copy], ignore_index=True)
        ent = pd.concat([ent, ent_copy], ignore_index=True)
    return workers, ent


def _apply_worker_rules(cells: pd.DataFrame, rec: pd.DataFrame, style: Style, start: date,
                        campaign_start: date) -> None:
    """Overwrite the cells of rows with a planted rule so that exactly that rule fires."""
    rule = rec["rule"]

    def at(name: str) -> pd.Index:
        return rec.index[rule == name]

    cells.loc[at("worker.mode.unknown"), "mode"] = "步行" if style.chinese else "walk"
    for name in ("worker.arrival_date.unparseable", "worker.arrival_date.after_report",
                 "worker.arrival_date.before_campaign"):
        cells.loc[at(name), "departure_date"] = ""
    cells.loc[at("worker.arrival_date.unparseable"), "arrival_date"] = "2020-02-30"
    idx = at("worker.arrival_date.after_report")
    cells.loc[idx, "arrival_date"] = pd.Series(
        [format_date(style, start + timedelta(days=int(d) + 2)) for d in rec.loc[idx, "report_day"]],
        index=idx, dtype=object)
    idx = at("worker.arrival_date.before_campaign")
    cells.loc[idx, "arrival_date"] = pd.Series(
        [format_date(style, campaign_start - timedelta(days=3))] * len(idx), index=idx, dtype=object)
    cells.loc[at("worker.destination_province.unknown"), "destination_province"] = "火星" if style.chinese else "Atlantis"
    idx = at("worker.origin_county.not_county")
    cells.loc[idx, "origin_county"] = rec.loc[idx, "origin_county"].str[:4] + "00"
    # The previous row of the same file (row numbers are consecutive labels), in row order so
    # that two planted rows in a row still both repeat an earlier id.
    for i in sorted(at("worker.record_id.duplicate")):
        assert rec.at[i - 1, "package"] == rec.at[i, "package"]
        cells.at[i, "record_id"] = cells.at[i - 1, "record_id"]
    cells.loc[at("worker.name.missing"), "name"] = ""
    cells.loc[at("worker.phone.invalid"), "phone"] = "1234567"
    idx = at("worker.id_number.invalid")
    planted = idx[~rec.loc[idx, "id_wrong_digit"].to_numpy()]
    true_ids = rec.loc[planted, "true_id"]
    cells.loc[planted, "id_number"] = [i[:17] + ("0" if i[17] != "0" else "1") for i in true_ids]
    idx = at("worker.departure_date.after_arrival")
    cells.loc[idx, "departure_date"] = pd.Series(
        [format_date(style, start + timedelta(days=int(d) + 2)) for d in rec.loc[idx, "arrival_day"]],
        index=idx, dtype=object)
    idx = at("worker.origin_risk.elevated")
    risks = np.where(np.arange(len(idx)) % 2 == 0, "medium", "high")
    cells.loc[idx, "origin_risk"] = [RISK_ZH[r] if style.chinese else r for r in risks]
    idx = at("worker.employer_uscc.invalid")
    cells.loc[idx, "employer_uscc"] = [u[:17] + ("0" if u[17] != "0" else "1") for u in rec.loc[idx, "true_employer"]]


def _write_packages(out: Path, packages: pd.DataFrame, workers: pd.DataFrame, enterprises: pd.DataFrame,
                    plan: Plan, start: date, campaign_start: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write every package; return per-file row counts and the worker rows actually written."""
    by_package_w = dict(tuple(workers.groupby("package", sort=False)))
    by_package_e = dict(tuple(enterprises.groupby("package", sort=False)))
    cells_w: dict[str, pd.DataFrame] = {}
    cells_e: dict[str, pd.DataFrame] = {}
    for province in packages["province"].unique():
        style = style_of(province)
        names = packages.loc[packages["province"] == province, "package"]
        rec = pd.concat([by_package_w[n] for n in names if n in by_package_w] or [workers.iloc[:0]])
        cells = format_workers(rec, style, start)
        _apply_worker_rules(cells, rec, style, start, campaign_start)
        for name, part in cells.groupby(rec["package"], sort=False):
            cells_w[name] = part
        ent = pd.concat([by_package_e[n] for n in names if n in by_package_e] or [enterprises.iloc[:0]])
        ecells = format_enterprises(ent, style, start)
        ecells.loc[ent.index[ent["rule"] == "enterprise.labour_gap.invalid"], "labour_gap"] = 0
        ecells.loc[ent.index[ent["rule"] == "enterprise.workers_supplied.invalid"], "workers_supplied"] = -1
        for name, part in ecells.groupby(ent["package"], sort=False):
            cells_e[name] = part

    files, written = [], []
    empty_w = format_workers(workers.iloc[:0], Style(), start)
    empty_e = format_enterprises(enterprises.iloc[:0], Style(), start)
    for pkg in packages.itertuples(index=False):
        style = style_of(pkg.province)
        report = start + timedelta(days=int(pkg.report_day))
        w_cells = cells_w.get(pkg.package, empty_w)
        e_cells = cells_e.get(pkg.package, empty_e)
        w_name, e_name = f"workers.{style.extension}", f"enterprises.{style.extension}"
        w_bytes = to_bytes(w_cells, style, "workers")
        e_bytes = to_bytes(e_cells, style, "enterprises")
        manifest = {
            "province": pkg.province,
            "report_date": report.isoformat(),
            "version": int(pkg.version),
            "submitted_at": f"{report.isoformat()}T18:{int(pkg.province) % 60:02d}:00+08:00",
            "files": [
                {"kind": "workers", "name": w_name, "rows": len(w_cells), "sha256": sha256(w_bytes)},
                {"kind": "enterprises", "name": e_name, "rows": len(e_cells), "sha256": sha256(e_bytes)},
            ],
        }
        w_rec = by_package_w.get(pkg.package, workers.iloc[:0])
        e_rec = by_package_e.get(pkg.package, enterprises.iloc[:0])
        if style.declares_totals:
            ok = w_rec[~w_rec["rule"].isin(WORKER_ERRORS)]
            by_mode = {m: int((ok["mode"] == m).sum()) for m in
                       ("special_train", "chartered_bus", "train_carriage", "charter_flight")}
            if (pkg.province, int(pkg.report_day)) in plan.wrong_totals and pkg.version == 1:
                by_mode["chartered_bus"] += 7
            e_ok = e_rec[~e_rec["rule"].isin(ENTERPRISE_ERRORS) & e_rec["key_enterprise"]]
            manifest["declared_totals"] = {
                "returns_by_mode": by_mode,
                "key_enterprises_resolved": int((e_ok["workers_supplied"] >= e_ok["labour_gap"]).sum()),
            }
        kept_rows = len(w_cells)
        zipped = style.zipped
        extra: list[tuple[str, bytes]] = []
        if pkg.reason == "package.name_mismatch":
            manifest["province"] = "63" if pkg.province != "63" else "62"
        elif pkg.reason == "package.file.checksum":
            lines = w_bytes.splitlines(keepends=True)
            kept_rows = max(0, (len(lines) - 1) * 6 // 10)
            w_bytes = b"".join(lines[:1 + kept_rows])
        elif pkg.reason == "package.zip.unsafe_path":
            zipped = True
            extra.append(("../outside.txt", b"written outside the package\n"))
        entries = [] if pkg.reason == "package.manifest.missing" else [("manifest.json", manifest_bytes(manifest))]
        entries += [(w_name, w_bytes), (e_name, e_bytes), *extra]
        visible = start + timedelta(days=int(pkg.visible_day))
        write_package(out / "arrivals" / visible.isoformat() / pkg.province / pkg.package, entries, zipped)
        files.append((pkg.package, w_name, kept_rows, int(w_rec["rule"].isin(WORKER_ERRORS).sum())))
        files.append((pkg.package, e_name, len(e_cells), int(e_rec["rule"].isin(ENTERPRISE_ERRORS).sum())))
        written.append(w_rec[["package", "row_number"]].iloc[:kept_rows])
    files_df = pd.DataFrame(files, columns=["package", "file", "rows_received", "rows_quarantined"])
    return files_df, pd.concat(written, ignore_index=True)


def _write_truth(info: SampleInfo, plan: Plan, packages: pd.DataFrame, workers: pd.DataFrame,
                 enterprises: pd.DataFrame, files: pd.DataFrame, campaign_offset: int) -> None:
    out = info.truth
    out.mkdir(parents=True, exist_ok=True)
    summary = truth.national_summary(packages, workers, enterprises, info.start, info.days, campaign_offset)
    summary.to_csv(out / "national_summary.csv", index=False, lineterminator="\n")
    workers.sort_values(["package", "row_number"])[["package", "file", "row_number", "record_id", "person_id"]] \
        .to_csv(out / "records.csv", index=False, lineterminator="\n")

    rejected = set(packages.loc[packages["status"] == "rejected", "package"])
    planted = pd.concat([
        workers.loc[workers["rule"] != "", ["package", "file", "row_number", "rule"]],
        enterprises.loc[enterprises["rule"] != "", ["package", "file", "row_number", "rule"]],
    ], ignore_index=True)
    planted = planted[~planted["package"].isin(rejected)]
    planted["severity"] = np.where(planted["rule"].isin(WORKER_ERRORS + ENTERPRISE_ERRORS), "error", "warning")
    planted.sort_values(["package", "file", "row_number"]).to_csv(
        out / "planted_record_errors.csv", index=False, lineterminator="\n")

    packages.loc[packages["status"] == "rejected", ["package", "reason"]].sort_values("package").to_csv(
        out / "planted_package_faults.csv", index=False, lineterminator="\n")
    truth.ledger(packages, files, info.days - 1).to_csv(out / "ledger.csv", index=False, lineterminator="\n")
    pd.DataFrame(sorted(((info.start + timedelta(days=d)).isoformat(), p) for p, d in plan.missing),
                 columns=["report_date", "province"]).to_csv(out / "provinces_missing.csv", index=False,
                                                             lineterminator="\n")

    def name(province: str, day: int, version: int = 1) -> str:
        return _package_name(province, info.start + timedelta(days=day), version)

    meta = {
        "parameters": {"start": info.start.isoformat(), "days": info.days,
                       "persons_per_day": info.persons_per_day, "seed": info.seed},
        "campaign_start": info.campaign_start.isoformat(),
        "report_dates": [d.isoformat() for d in info.report_dates],
        "late_packages": [{"package": name(p, d), "report_date": (info.start + timedelta(days=d)).isoformat(),
                           "visible_on": (info.start + timedelta(days=d + lag)).isoformat(), "days_late": lag}
                          for (p, d), lag in sorted(plan.late.items())],
        "resubmitted": [{"superseded": name(p, d), "replacement": name(p, d, 2),
                         "visible_on": (info.start + timedelta(days=d + 1)).isoformat()}
                        for p, d in sorted(plan.resubmitted)],
        "header_only_packages": sorted(name(p, d) for p, d in plan.header_only),
        "wrong_declared_totals": sorted(name(p, d) for p, d in plan.wrong_totals
                                        if name(p, d) not in rejected),
        "without_declared_totals": sorted(packages.loc[[not style_of(p).declares_totals
                                                        for p in packages["province"]], "package"]),
        "rejected_packages": {r.package: r.reason for r in packages[packages["status"] == "rejected"].itertuples()},
        "stray_entries": [STRAY_ENTRY],
        "zipped_packages": sorted(n for n, p, r in zip(packages["package"], packages["province"], packages["reason"])
                                  if style_of(p).zipped or r == "package.zip.unsafe_path"),
        "formats": {p: asdict(style_of(p)) for p in ref.provinces()},
        "persons": int(workers["person_id"].nunique()),
        "worker_rows": int(len(workers)),
    }
    (out / "sample.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
