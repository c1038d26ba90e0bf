"""Linkage quality on the independent generator's records (issue 20): pairwise precision
and recall against its truth, and the recall of the pairs a mangled ID takes part in."""

from __future__ import annotations

from dataclasses import dataclass

import independent_generator
import pandas as pd

MANGLED = ("scientific", "rounded", "truncated")


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    mangled_recall: float
    """Recall over true pairs with at least one record whose ID a spreadsheet mangled."""
    true_pairs: int
    mangled_pairs: int
    records: int


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def quality(record_person: pd.DataFrame, workers: pd.DataFrame, truth: pd.DataFrame) -> Quality:
    """Pairs counted per cell of (linked person, true person): no pair list is built."""
    frame = workers[["package", "file", "row_number"]].assign(
        person_id=truth["person_id"].to_numpy(),
        mangled=truth["id_damage"].isin(MANGLED).to_numpy())
    joined = record_person.merge(frame, on=["package", "file", "row_number"], validate="1:1")
    both = _pairs(joined.groupby(["person_key", "person_id"]).size())
    found = _pairs(joined.groupby("person_key").size())
    actual = _pairs(joined.groupby("person_id").size())
    # Pairs with a mangled side = all pairs less those with neither side mangled.
    clean = joined[~joined["mangled"]]
    mangled_true = actual - _pairs(clean.groupby("person_id").size())
    mangled_found = both - _pairs(clean.groupby(["person_key", "person_id"]).size())
    return Quality(
        precision=both / found if found else 1.0,
        recall=both / actual if actual else 1.0,
        mangled_recall=mangled_found / mangled_true if mangled_true else 1.0,
        true_pairs=actual, mangled_pairs=mangled_true, records=len(joined))


def measure(n_persons: int, *, missing_id: float, mangle: float, seed: int,
            key: bytes = b"out-of-sample", model_path=None) -> Quality:
    """Generate, link from scratch with the stored model, score."""
    from returnstats.linkage.run import link_records

    workers, truth = independent_generator.generate(
        n_persons, missing_id=missing_id, mangle=mangle, seed=seed)
    result = link_records(workers, key, model_path=model_path)
    return quality(result.record_person, workers, truth)
