"""Custom Great Expectations expectations for the SPEC §3.2 checks GX has no built-in for.

Importing this module registers them with GX (an Expectation subclass registers itself
under the snake_case of its class name; a metric provider under its
`condition_metric_name`), so a suite in `include/gx/expectations/` can name them like
any built-in. Each condition is a vectorised pandas function of the column GX hands it
(nulls already left out, as for built-ins); the work behind it is done once per
distinct value in `returnstats.reports.values`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from returnstats.reports import values

_PAIR_DOMAIN = ("batch_id", "table", "column_A", "column_B", "row_condition",
                "condition_parser", "ignore_row_if")
IgnoreRowIf = Literal["both_values_are_missing", "either_value_is_missing", "neither"]


def _text(column: pd.Series) -> pd.Series:
    return column.astype(object)


# ---------------------------------------------------------------- column checks

class ColumnValuesParseableDate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_parseable_date"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return values.parse_datetime64(_text(column)).notna()


class ExpectColumnValuesToBeParseableDates(ColumnMapExpectation):
    """Each value is a date in one of the SPEC §2.2 forms (2020-03-01, 2020/3/1, 20200301,
    2020年3月1日, an ISO date-time)."""

    map_metric = "column_values.returnstats_parseable_date"
    success_keys = ("mostly",)


class ColumnValuesInteger(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_integer"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return values.parse_int(_text(column)).notna()


class ExpectColumnValuesToBeIntegers(ColumnMapExpectation):
    """Each value is an integer written in digits (a spreadsheet's `12.0` included)."""

    map_metric = "column_values.returnstats_integer"
    success_keys = ("mostly",)


class ColumnValuesGb11643(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_gb11643"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return values.is_valid_id(_text(column))


class ExpectColumnValuesToBeGb11643IdNumbers(ColumnMapExpectation):
    """Each value is a valid GB 11643 citizen ID number: 18 characters, a birth date that
    exists, an address code known for the birth year and the right check digit (the
    rules of python-stdnum's `cn.ric`)."""

    map_metric = "column_values.returnstats_gb11643"
    success_keys = ("mostly",)


class ColumnValuesGb32100(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_gb32100"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return values.is_valid_uscc(_text(column))


class ExpectColumnValuesToBeGb32100CreditCodes(ColumnMapExpectation):
    """Each value is a valid GB 32100 unified social credit code (python-stdnum's
    `cn.uscc`: form and check character)."""

    map_metric = "column_values.returnstats_gb32100"
    success_keys = ("mostly",)


class ColumnValuesCountyCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_county_code"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return values.is_county_code(_text(column))


class ExpectColumnValuesToBeCountyCodes(ColumnMapExpectation):
    """Each value is a 6-digit county-level GB/T 2260 code (not a province or prefecture
    code; see `returnstats.reports.values.is_county_code`)."""

    map_metric = "column_values.returnstats_county_code"
    success_keys = ("mostly",)


class ColumnValuesFirstOccurrence(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_first_occurrence"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return ~column.duplicated(keep="first")


class ExpectColumnValuesToBeFirstOccurrences(ColumnMapExpectation):
    """No value repeats one of an earlier row: the first row with a value passes, every
    later row with the same value fails (GX's uniqueness expectations fail them all)."""

    map_metric = "column_values.returnstats_first_occurrence"
    success_keys = ("mostly",)


# ---------------------------------------------------------------- against the ID number

def _id_facts(ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Sex and birth date encoded in each valid ID number (None/NaT for invalid ones)."""
    ids = _text(ids)
    return values.id_facts(ids, values.is_valid_id(ids))


class ColumnPairSexMatchesId(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.returnstats_sex_matches_id"
    condition_domain_keys = _PAIR_DOMAIN

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        sex, _ = _id_facts(column_B)
        comparable = sex.notna() & column_A.isin(["M", "F"])
        return ~comparable | (column_A == sex)


class ExpectColumnPairSexToMatchIdNumber(ColumnPairMapExpectation):
    """`column_A` (sex, M or F) is the sex the valid ID number in `column_B` encodes
    (its 17th digit: odd is male). Rows with an invalid ID or an unknown sex pass: other
    rules flag those."""

    ignore_row_if: IgnoreRowIf = "either_value_is_missing"
    map_metric = "column_pair_values.returnstats_sex_matches_id"
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys: ClassVar = ("column_A", "column_B")


class ColumnPairBirthDateMatchesId(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.returnstats_birth_date_matches_id"
    condition_domain_keys = _PAIR_DOMAIN

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        _, birth = _id_facts(column_B)
        given = pd.Series(column_A, copy=False).astype("datetime64[s]")
        return birth.isna() | (given == birth)


class ExpectColumnPairBirthDateToMatchIdNumber(ColumnPairMapExpectation):
    """`column_A` (a parsed birth date) is the birth date the valid ID number in
    `column_B` encodes (digits 7–14). Rows with an invalid ID pass."""

    ignore_row_if: IgnoreRowIf = "either_value_is_missing"
    map_metric = "column_pair_values.returnstats_birth_date_matches_id"
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys: ClassVar = ("column_A", "column_B")


class ColumnPairCreditCodeInProvince(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.returnstats_credit_code_in_province"
    condition_domain_keys = _PAIR_DOMAIN

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        codes = _text(column_A)
        valid = values.is_valid_uscc(codes).to_numpy()
        registered = codes.str.slice(2, 4).to_numpy(dtype=object)
        return pd.Series(~valid | (registered == column_B.to_numpy(dtype=object)),
                         index=column_A.index, dtype=bool)


class ExpectColumnPairCreditCodeToBeRegisteredInProvince(ColumnPairMapExpectation):
    """The valid credit code in `column_A` is registered in the province `column_B`
    (characters 3–4 of a GB 32100 code). Invalid codes pass: another rule flags them."""

    ignore_row_if: IgnoreRowIf = "either_value_is_missing"
    map_metric = "column_pair_values.returnstats_credit_code_in_province"
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys: ClassVar = ("column_A", "column_B")


CUSTOM = (
    ExpectColumnValuesToBeParseableDates, ExpectColumnValuesToBeIntegers,
    ExpectColumnValuesToBeGb11643IdNumbers, ExpectColumnValuesToBeGb32100CreditCodes,
    ExpectColumnValuesToBeCountyCodes, ExpectColumnValuesToBeFirstOccurrences,
    ExpectColumnPairSexToMatchIdNumber, ExpectColumnPairBirthDateToMatchIdNumber,
    ExpectColumnPairCreditCodeToBeRegisteredInProvince,
)
"""The expectation classes this module registers."""
