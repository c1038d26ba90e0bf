"""Retrain the linkage model and write `include/linkage/model.json`.

    python -m returnstats.linkage.train --sample DIR [--out PATH] [--seed 7] [--supervised]

DIR is a sample made by `python -m returnstats.sample generate --out DIR ...` (or any
landing tree of packages): its packages are read and validated by the pipeline's own
rooms into a temporary staging zone. Training uses no answer key: u probabilities come
from random pairs, m probabilities from expectation maximisation over the unlabelled
records, in two rounds whose blocking rules avoid circularity (same name and county
estimates the ID, phone, birth date and the rest; same ID as given estimates the name
and the household), and the prior from the share of valid IDs. `--supervised` estimates
m from the labelled same-person pairs of `DIR/truth/records.csv` instead: kept only to
compare with (docs/linkage.md). Runs never retrain: they load the file this writes.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from returnstats.linkage import model as linkage_model
from returnstats.linkage.state import FOUNDING_ORDER, PROFILE_COLUMNS, new_state_rows

log = logging.getLogger(__name__)

U_MAX_PAIRS = 5e6


def _labelled_pairs(records: pd.DataFrame, person_ids: pd.Series) -> pd.DataFrame:
    """Same-person pairs (rid_l < rid_r) where at least one side has no valid ID."""
    frame = pd.DataFrame({"rid": records["rid"], "person": person_ids.to_numpy(),
                          "has_id": records["id_number"].notna().to_numpy()})
    pairs = frame.merge(frame, on="person", suffixes=("_l", "_r"))
    pairs = pairs[(pairs["rid_l"] < pairs["rid_r"]) & ~(pairs["has_id_l"] & pairs["has_id_r"])]
    return pairs[["rid_l", "rid_r"]].reset_index(drop=True)


def _match_prior(person_ids: pd.Series) -> float:
    """Share of all record pairs that are the same person."""
    n = len(person_ids)
    sizes = person_ids.value_counts()
    matching = float((sizes * (sizes - 1) / 2).sum())
    return max(matching / (n * (n - 1) / 2), 1e-9)


M_FLOOR = 1e-3
U_FLOOR = 1e-7


def smooth(trained: dict[str, Any]) -> dict[str, Any]:
    """Give levels the sample never showed a small probability instead of none (in the
    comparisons of damaged evidence, `model.DAMAGED_EVIDENCE`, the same as u: what was
    never seen counts for nothing), make the neutral levels (`model.NEUTRAL_LEVELS`)
    count for nothing, and keep
    each comparison's Bayes factors falling from its strongest level to its weakest (a
    sample too small to show the same malformed ID twice must not make that weaker
    evidence than an ID two edits away)."""
    for comparison in trained["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        observed_u = [lv["u_probability"] for lv in levels if lv.get("u_probability")]
        # An unobserved u is as rare as the rarest observed level, not rarer.
        rarest_u = max(min(observed_u, default=U_FLOOR), U_FLOOR)
        damaged_evidence = comparison["output_column_name"] in linkage_model.DAMAGED_EVIDENCE
        for level in levels:
            seen_m, seen_u = level.get("m_probability"), level.get("u_probability")
            level["u_probability"] = max(seen_u, U_FLOOR) if seen_u else rarest_u
            neutral = (comparison["output_column_name"],
                       level.get("label_for_charts")) in linkage_model.NEUTRAL_LEVELS
            if neutral or (damaged_evidence and not seen_m):
                level["m_probability"] = level["u_probability"]  # Bayes factor 1
            else:
                level["m_probability"] = max(seen_m or 0.0, M_FLOOR)
        for stronger, weaker in zip(reversed(levels[:-1]), reversed(levels[1:]), strict=True):
            weaker_factor = weaker["m_probability"] / weaker["u_probability"]
            if stronger["m_probability"] / stronger["u_probability"] < weaker_factor:
                stronger["m_probability"] = min(1.0, weaker_factor * stronger["u_probability"])
    return trained


EM_BLOCKING_RULES = (
    "l.name_pinyin = r.name_pinyin AND l.origin_county = r.origin_county",
    "l.id_number_raw = r.id_number_raw",
)
"""EM rounds: Splink estimates m for every comparison but those the round's blocking rule
uses, so the name is never trained on pairs chosen by name, nor the ID on pairs chosen
by ID."""


def _valid_id_share(records: pd.DataFrame) -> float:
    return float(records["id_number"].notna().mean()) if len(records) else 0.0


def train_model(workers: pd.DataFrame, person_ids: pd.Series | None = None,
                seed: int = 7) -> dict[str, Any]:
    """A trained settings+parameters dictionary. Without `person_ids`, m comes from
    expectation maximisation on the records alone (the model the pipeline ships); with
    them (the sample truth, aligned with `workers`), from the labelled pairs, for
    comparison."""
    import duckdb
    from splink import DuckDBAPI, Linker

    order = workers.sort_values(FOUNDING_ORDER, kind="mergesort").index
    profile = new_state_rows(workers).select(PROFILE_COLUMNS)
    records = profile.add_column(0, "rid", pa.array(range(profile.num_rows), pa.int64()))
    connection = duckdb.connect(":memory:")
    db_api = DuckDBAPI(connection)
    table = db_api.register(records, table_name="workers_for_training")
    records = records.select(["rid", "id_number"]).to_pandas()
    linker = Linker(table, linkage_model.untrained_settings(), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)

    if person_ids is not None:
        persons = person_ids.loc[order].reset_index(drop=True)
        labels = db_api.register(_labelled_pairs(records, persons), table_name="labelled_pairs")
        linker.training.estimate_m_from_pairwise_labels(labels)
        linker._settings_obj._probability_two_random_records_match = _match_prior(persons)
    else:
        # Two records of one person both carry a valid ID about share² of the time: the
        # recall of the same-ID rule, from which Splink derives the prior.
        share = _valid_id_share(records)
        linker.training.estimate_probability_two_random_records_match(
            ["l.id_number = r.id_number"], recall=max(share * share, 0.05))
        for rule in EM_BLOCKING_RULES:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True)

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.json"
        linker.misc.save_model_to_json(str(path), overwrite=True)
        trained = json.loads(path.read_text(encoding="utf-8"))
    connection.close()
    return smooth(trained)


def _read_sample(sample: Path) -> tuple[pd.DataFrame, pd.Series | None]:
    """Stage the whole sample with the pipeline's own readers and validation."""
    from dataclasses import replace

    from returnstats.config import load_settings
    from returnstats.reference import provinces
    from returnstats.sample import deliver
    from returnstats.validation.ingest import ingest_province
    from returnstats.validation.staging import read_staged

    days = sorted(p.name for p in (sample / "arrivals").iterdir() if p.is_dir())
    if not days:
        raise SystemExit(f"no arrivals under {sample}")
    as_of = date.fromisoformat(days[-1])
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        settings = replace(load_settings(), landing=root / "landing", warehouse=root / "warehouse",
                           output=root / "output", staging=root / "staging")
        settings.ensure_dirs()
        deliver(sample, settings.landing, as_of)
        for province in provinces():
            ingest_province(settings, province, as_of)
        workers = read_staged(settings, as_of).workers
    truth_path = sample / "truth" / "records.csv"
    if not truth_path.exists():
        return workers, None
    truth = pd.read_csv(truth_path, dtype=str)
    truth["row_number"] = truth["row_number"].astype("int64")
    keyed = workers[["package", "file", "row_number"]].merge(
        truth[["package", "file", "row_number", "person_id"]],
        on=["package", "file", "row_number"], how="left",
    )
    if keyed["person_id"].isna().any():
        raise SystemExit("truth/records.csv does not cover every staged record")
    return workers, pd.Series(keyed["person_id"].to_numpy(), index=workers.index)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m returnstats.linkage.train",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, required=True, help="generated sample directory")
    parser.add_argument("--out", type=Path, default=linkage_model.MODEL_PATH)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--supervised", action="store_true",
                        help="estimate m from DIR/truth/records.csv (comparison only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    workers, person_ids = _read_sample(args.sample)
    if not args.supervised:
        person_ids = None
    elif person_ids is None:
        raise SystemExit(f"--supervised needs {args.sample}/truth/records.csv")
    trained = train_model(workers, person_ids, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(trained, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("wrote %s from %d records (%s)", args.out, len(workers),
             "labelled pairs" if person_ids is not None else "expectation maximisation")


if __name__ == "__main__":
    main()
