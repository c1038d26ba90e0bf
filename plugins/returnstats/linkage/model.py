"""The Splink model of SPEC §4: blocking rules, comparisons and the stored parameters.

The model is built here as small Splink objects (one per comparison) and kept, trained, as
`include/linkage/model.json`; runs load that file and never retrain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl

from returnstats.config import INCLUDE

MODEL_PATH = INCLUDE / "linkage" / "model.json"

MATCH_THRESHOLD = 0.99
"""Minimum match probability of a probabilistic edge. Precision first: a false merge
under-counts returns, a missed one only leaves a duplicate that the other side's ID
record usually catches."""

ARRIVAL_DAYS_CLOSE = 3

# Columns of the table Splink compares (built by `run.comparison_frame`).
UNIQUE_ID = "rid"

# Every rule requires a side without a valid ID: records that both carry one are linked
# deterministically (same ID) or never (different IDs).
_ONE_SIDE_WITHOUT_ID = "(l.id_number IS NULL OR r.id_number IS NULL)"

BLOCKING_RULES: tuple[str, ...] = (
    "l.name_pinyin = r.name_pinyin AND l.origin_county = r.origin_county",
    "l.phone = r.phone",
    "l.birth_date = r.birth_date AND l.origin_county = r.origin_county",
    "l.id_head = r.id_head",
    "l.id_tail = r.id_tail",
)
"""Same pinyin and county; same phone; same birth date and county; an ID number as given
sharing its first 9 or its last 9 characters (one or two slips of the pen leave one half
intact)."""

NAME_LEVEL_MIN = 1
"""`gamma_name` of the weakest level that counts as given-name agreement (close spelling).
Below it (different name, or null) an edge is never accepted, whatever the other evidence:
twins share everything but the given name."""


def blocking_rules() -> list[str]:
    return [f"({rule}) AND {_ONE_SIDE_WITHOUT_ID}" for rule in BLOCKING_RULES]


def name_comparison() -> cl.CustomComparison:
    """Exact (term-frequency adjusted: 张伟 agrees less than 欧阳靖宇), homophone, or one
    character off in a name of three or more characters that also sounds one letter off."""
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_norm"),
            cll.ExactMatchLevel("name_norm", term_frequency_adjustments=True),
            cll.CustomLevel("l.name_pinyin = r.name_pinyin", "same pinyin"),
            cll.CustomLevel(
                "levenshtein(l.name_norm, r.name_norm) <= 1 "
                "AND levenshtein(l.name_pinyin, r.name_pinyin) <= 1 "
                "AND length(l.name_norm) >= 3",
                "one character off",
            ),
            cll.ElseLevel(),
        ],
    )


def household_comparison() -> cl.CustomComparison:
    """Phone and origin county as one piece of evidence: relatives share both, so counting
    them as independent comparisons would double the weight of a shared household."""
    return cl.CustomComparison(
        output_column_name="household",
        comparison_levels=[
            cll.CustomLevel(
                "l.phone = r.phone AND l.origin_county = r.origin_county",
                "same phone and county",
            ),
            cll.CustomLevel("l.phone = r.phone", "same phone, other county"),
            cll.CustomLevel(
                "l.origin_county = r.origin_county AND l.phone IS NOT NULL "
                "AND r.phone IS NOT NULL",
                "same county, other phone",
            ),
            cll.CustomLevel("l.origin_county = r.origin_county", "same county, a phone missing"),
            cll.ElseLevel(),
        ],
    )


def birth_date_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.DamerauLevenshteinLevel("birth_date", 1),
            cll.ElseLevel(),
        ],
    )


def id_number_comparison() -> cl.CustomComparison:
    """The ID number as given (valid or not): a malformed ID two edits from another record's
    ID is strong evidence."""
    return cl.CustomComparison(
        output_column_name="id_number_raw",
        comparison_levels=[
            cll.NullLevel("id_number_raw"),
            cll.ExactMatchLevel("id_number_raw"),
            cll.LevenshteinLevel("id_number_raw", 2),
            cll.ElseLevel(),
        ],
    )


def sex_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="sex",
        comparison_levels=[cll.NullLevel("sex"), cll.ExactMatchLevel("sex"), cll.ElseLevel()],
    )


def destination_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="destination_province",
        comparison_levels=[cll.ExactMatchLevel("destination_province"), cll.ElseLevel()],
    )


def arrival_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="arrival_date",
        comparison_levels=[
            cll.CustomLevel("l.arrival_date = r.arrival_date", "same day"),
            cll.CustomLevel(
                f"abs(date_diff('day', l.arrival_date, r.arrival_date)) <= {ARRIVAL_DAYS_CLOSE}",
                f"within {ARRIVAL_DAYS_CLOSE} days",
            ),
            cll.ElseLevel(),
        ],
    )


def untrained_settings() -> dict[str, Any]:
    """The model's structure with Splink's default parameters, ready for training."""
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        blocking_rules_to_generate_predictions=blocking_rules(),
        comparisons=[
            name_comparison(),
            household_comparison(),
            birth_date_comparison(),
            id_number_comparison(),
            sex_comparison(),
            destination_comparison(),
            arrival_comparison(),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    return creator.get_settings("duckdb").as_dict()


def load_model(path: Path | None = None) -> dict[str, Any]:
    """The trained settings+parameters dictionary (`include/linkage/model.json`)."""
    with open(path or MODEL_PATH, encoding="utf-8") as handle:
        return json.load(handle)
