"""The Splink model of SPEC §4: blocking rules, comparisons and the stored parameters.

The model is built here as small Splink objects (one per comparison) and kept, trained
without labels (`train.py`), as `include/linkage/model.json`; runs load that file and
never retrain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl

from returnstats.config import INCLUDE
from returnstats.linkage.state import BLOCKING_KEYS

MODEL_PATH = INCLUDE / "linkage" / "model.json"

MATCH_THRESHOLD = 0.9
"""Minimum match probability of a probabilistic edge, chosen for a pairwise precision of
at least 0.9995 out of sample (docs/linkage.md, "Out of sample": the trade-off curve
measured on the independent generator). Precision first: a false merge under-counts
returns, a missed one only leaves a duplicate."""

ARRIVAL_DAYS_CLOSE = 3

# Columns of the table Splink compares (built by `run.comparison_frame`).
UNIQUE_ID = "rid"

# Every rule requires a side without a valid ID: records that both carry one are linked
# deterministically (same ID) or never (different IDs).
_ONE_SIDE_WITHOUT_ID = "(l.id_number IS NULL OR r.id_number IS NULL)"

BLOCKING_RULES: tuple[str, ...] = tuple(
    " AND ".join(f"l.{column} = r.{column}" for column in key) for key in BLOCKING_KEYS)
"""Same pinyin and county; same phone; same birth date and county; an ID number as given
sharing its first 9 or its last 9 characters (one or two slips of the pen leave one half
intact). The first 9 characters are only county and birth decade, a block of thousands
in a large campaign, so that rule also asks for the same pinyin of the name's last
character (`name_tail`), which every pair passing `name_agreement_sql` shares anyway."""

# Close spelling: the same given name under a mistyped surname, or a Latin-script name
# one letter off. A one-character difference inside a Chinese given name is not close:
# siblings share a generation character (张建国/张建军) and often a homophone-like sound
# (婷/静, 明/英). Nor is one letter, for agreement: in a pinyin name it is another
# syllable, another character (twins "Shen yijuan" and "Shen yijian").
_SAME_GIVEN_NAME = (
    "(length({l}name_norm{_l}) >= 3 AND length({r}name_norm{_r}) = length({l}name_norm{_l}) "
    "AND substr({l}name_norm{_l}, 2) = substr({r}name_norm{_r}, 2))"
)
_LATIN_ONE_LETTER_OFF = (
    "(regexp_full_match({l}name_norm{_l}, '[a-z]{{6,}}') "
    "AND regexp_full_match({r}name_norm{_r}, '[a-z]{{6,}}') "
    "AND levenshtein({l}name_norm{_l}, {r}name_norm{_r}) <= 1)"
)


def _sql(template: str, alias: bool) -> str:
    if alias:
        return template.format(l="l.", r="r.", _l="", _r="")
    return template.format(l="", r="", _l="_l", _r="_r")


def _name_close() -> str:
    return f"({_sql(_SAME_GIVEN_NAME, False)} OR {_sql(_LATIN_ONE_LETTER_OFF, False)})"


def name_agreement_sql() -> str:
    """Given-name agreement over a pair `l`, `r`: exact, same pinyin, or the same given
    name under another surname. Without it an edge is never accepted, whatever the other
    evidence: twins share everything but the given name. A Latin-script name one letter
    off is scored as close but does not agree."""
    return (
        "(l.name_norm = r.name_norm OR l.name_pinyin = r.name_pinyin "
        f"OR {_sql(_SAME_GIVEN_NAME, alias=True)})"
    )


def blocking_rules() -> list[str]:
    return [f"({rule}) AND {_ONE_SIDE_WITHOUT_ID}" for rule in BLOCKING_RULES]


def name_comparison() -> cl.CustomComparison:
    """Exact (term-frequency adjusted: 张伟 agrees less than 欧阳靖宇), homophone (same
    toneless pinyin), or close spelling with the same given name."""
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_norm"),
            cll.ExactMatchLevel("name_norm", term_frequency_adjustments=True),
            cll.CustomLevel("name_pinyin_l = name_pinyin_r", "same pinyin"),
            cll.CustomLevel(_name_close(), "one character off"),
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
                "phone_l = phone_r AND origin_county_l = origin_county_r",
                "same phone and county",
            ),
            cll.CustomLevel("phone_l = phone_r", "same phone, other county"),
            cll.CustomLevel(
                "origin_county_l = origin_county_r AND (phone_l IS NULL OR phone_r IS NULL)",
                "same county, a phone missing",
            ),
            cll.CustomLevel("origin_county_l = origin_county_r", "same county, other phone"),
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


_ID_PREFIX_AGREES = ("(starts_with(id_lead_l, id_lead_r) OR starts_with(id_lead_r, id_lead_l))")


ID_DIFFER = "IDs differ"
DAMAGED_EVIDENCE = {"id_number"}
"""Comparisons whose levels training never saw count for nothing (`train.smooth`): a
training sample without mangled IDs says nothing of what their surviving digits weigh."""
NEUTRAL_LEVELS = {("id_number", ID_DIFFER)}
"""Levels that are never evidence against a match (`train.smooth` gives them m = u): a
scored pair always has a side without a valid ID, and an ID that is malformed,
mistyped or mangled and differs is damaged evidence, not a different person."""


def id_number_comparison() -> cl.CustomComparison:
    """The ID number as given, valid or not, and what survives of a damaged one.

    Agreement ranges from the same intact ID, through one two edits away, down to a
    damaged ID whose surviving digits (15 of a rounded ID, the county of "4.50511E+17")
    begin the other's. A difference counts for nothing (`NEUTRAL_LEVELS`): it is kept as
    a level, not folded into the null level, so that the agreeing levels' m and u stay
    shares of all pairs with ID evidence on both sides."""
    return cl.CustomComparison(
        output_column_name="id_number",
        comparison_levels=[
            cll.CustomLevel("id_lead_l IS NULL OR id_lead_r IS NULL",
                            "no ID evidence").configure(is_null_level=True),
            cll.CustomLevel("id_number_raw_l = id_number_raw_r", "same ID as given"),
            cll.CustomLevel("levenshtein(id_number_raw_l, id_number_raw_r) <= 2",
                            "within 2 edits"),
            cll.CustomLevel(f"least(length(id_lead_l), length(id_lead_r)) >= 15 "
                            f"AND {_ID_PREFIX_AGREES}", "damaged, first 15 digits agree"),
            cll.CustomLevel(_ID_PREFIX_AGREES, "damaged, county digits agree"),
            cll.ElseLevel().configure(label_for_charts=ID_DIFFER),
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
            cll.CustomLevel("arrival_date_l = arrival_date_r", "same day"),
            cll.CustomLevel(
                f"abs(date_diff('day', arrival_date_l, arrival_date_r)) <= {ARRIVAL_DAYS_CLOSE}",
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


def model_digest(path: Path | None = None) -> str:
    """SHA-256 of the model file: a run's delta depends on the model it was scored with."""
    import hashlib

    return hashlib.sha256((path or MODEL_PATH).read_bytes()).hexdigest()


def load_model(path: Path | None = None) -> dict[str, Any]:
    """The trained settings+parameters dictionary (`include/linkage/model.json`)."""
    with open(path or MODEL_PATH, encoding="utf-8") as handle:
        return json.load(handle)
