"""Ground truth (SPEC §4–§5) computed from TRUE identities over the records the pipeline
should accept as of each date: the oracle the end-to-end tests compare with."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from returnstats.sample.model import MODES

SUMMARY_COLUMNS = (
    "as_of", "date", "returns_new", "returns_cumulative",
    *(f"returns_cumulative_{m}" for m in ("special_train", "chartered_bus", "train_carriage", "charter_flight")),
    "cross_province_new", "cross_province_cumulative", "key_enterprises_resolved_cumulative",
    "provinces_reporting",
)


def active_packages(packages: pd.DataFrame, as_of_day: int) -> pd.DataFrame:
    """Accepted packages visible by the as-of date, highest version per province and date."""
    visible = packages[(packages["status"] == "accepted") & (packages["visible_day"] <= as_of_day)
                       & (packages["report_day"] <= as_of_day)]
    return visible.sort_values("version").drop_duplicates(["province", "report_day"], keep="last")


def person_returns(workers: pd.DataFrame, active: pd.DataFrame) -> pd.DataFrame:
    """One row per true person with SPEC §4 survivorship over its accepted records."""
    rec = workers[workers["package"].isin(active["package"]) & ~workers["error"]]
    rec = rec.sort_values(["arrival_day", "report_day", "package", "row_number"], kind="stable")
    origin_province = rec["origin_county"].str[:2]
    sending = rec[rec["province"] == origin_province]
    receiving = rec[(rec["province"] != origin_province) & (rec["province"] == rec["destination_province"])]
    columns = ["arrival_day", "mode", "origin_county", "destination_province"]
    earliest = rec.groupby("person_id")[columns].first()
    chosen = sending.groupby("person_id")[columns].first().reindex(earliest.index)
    chosen = chosen.fillna(earliest)
    destination = receiving.groupby("person_id")["destination_province"].first().reindex(earliest.index)
    return pd.DataFrame({
        "return_day": earliest["arrival_day"].astype(int),
        "mode": chosen["mode"],
        "origin_province": chosen["origin_county"].str[:2],
        "destination_province": destination.fillna(chosen["destination_province"]),
        "n_records": rec.groupby("person_id").size(),
    })


def national_summary(packages: pd.DataFrame, workers: pd.DataFrame, enterprises: pd.DataFrame,
                     start: date, days: int, campaign_offset: int) -> pd.DataFrame:
    frames = []
    for as_of_day in range(days):
        active = active_packages(packages, as_of_day)
        people = person_returns(workers, active)
        span = pd.RangeIndex(campaign_offset, as_of_day + 1)

        def per_day(mask: pd.Series) -> np.ndarray:
            return people.loc[mask, "return_day"].value_counts().reindex(span, fill_value=0).to_numpy()  # noqa: B023 (called inside the loop)

        everyone = pd.Series(True, index=people.index)
        cross = people["origin_province"] != people["destination_province"]
        new = per_day(everyone)
        cross_new = per_day(cross)
        row = {
            "as_of": (start + timedelta(days=as_of_day)).isoformat(),
            "date": [(start + timedelta(days=int(d))).isoformat() for d in span],
            "returns_new": new,
            "returns_cumulative": new.cumsum(),
        }
        for mode in ("special_train", "chartered_bus", "train_carriage", "charter_flight"):
            row[f"returns_cumulative_{mode}"] = per_day(people["mode"] == mode).cumsum()
        row["cross_province_new"] = cross_new
        row["cross_province_cumulative"] = cross_new.cumsum()

        ents = enterprises[enterprises["package"].isin(active["package"]) & ~enterprises["error"]
                           & enterprises["key_enterprise"]].sort_values("status_day", kind="stable")
        resolved = []
        for d in span:
            latest = ents[ents["status_day"] <= d].drop_duplicates("enterprise_uscc", keep="last")
            resolved.append(int((latest["workers_supplied"] >= latest["labour_gap"]).sum()))
        row["key_enterprises_resolved_cumulative"] = resolved
        reporting = active.groupby("report_day")["province"].nunique()
        row["provinces_reporting"] = reporting.reindex(span, fill_value=0).to_numpy()
        frames.append(pd.DataFrame(row))
    summary = pd.concat(frames, ignore_index=True)
    assert set(MODES) == {c.removeprefix("returns_cumulative_") for c in SUMMARY_COLUMNS[4:8]}
    return summary[list(SUMMARY_COLUMNS)]


def ledger(packages: pd.DataFrame, files: pd.DataFrame, last_day: int) -> pd.DataFrame:
    """Expected ledger as of the last day: one row per file of every package present."""
    present = packages[(packages["visible_day"] <= last_day) & (packages["report_day"] <= last_day)]
    active = set(active_packages(packages, last_day)["package"])
    status = np.where(present["status"] == "rejected", "rejected",
                      np.where(present["package"].isin(active), "accepted", "superseded"))
    present = present.assign(status=status)
    out = files.merge(present[["package", "status", "reason"]], on="package")
    accepted = out["status"] == "accepted"
    out["rows_quarantined"] = np.where(accepted, out["rows_quarantined"], 0)
    out["rows_accepted"] = np.where(accepted, out["rows_received"] - out["rows_quarantined"], 0)
    out["reason"] = np.where(out["status"] == "superseded", "superseded", out["reason"])
    return out[["package", "file", "status", "rows_received", "rows_accepted", "rows_quarantined",
                "reason"]].sort_values(["package", "file"], ignore_index=True)
