"""Custom Great Expectations expectations for the SPEC §3.2 checks GX has no built-in for.

Importing this module registers them with GX (an Expectation subclass registers itself
under the snake_case of its class name; a metric provider under its
`condition_metric_name`), so a suite in `include/gx/expectations/` can name them like
any built-in. Each condition is a vectorised pandas function of the column GX hands it
(nulls already left out, as for built-ins); the work behind it is done once per
distinct value in `returnstats.reports.values`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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


def _per_value(column: pd.Series, check: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`check` of each value, computed once per distinct value of a categorical column."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        verdicts = check(pd.Series(column.cat.categories.to_numpy(dtype=object)))
        return pd.Series(verdicts.to_numpy(dtype=bool)[column.cat.codes.to_numpy()],
                         index=column.index)
    return check(_text(column))


# ---------------------------------------------------------------- column checks

class ColumnValuesParseableDate(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_parseable_date"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _per_value(column, lambda v: values.parse_datetime64(v).notna())


class ExpectColumnValuesToBeParseableDates(ColumnMapExpectation):
    """Each value is a date in one of the SPEC §2.2 forms (2020-03-01, 2020/3/1, 20200301,
    2020年3月1日, an ISO date-time)."""

    map_metric = "column_values.returnstats_parseable_date"
    success_keys = ("mostly",)


class ColumnValuesInteger(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_integer"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _per_value(column, lambda v: values.parse_int(v).notna())


class ExpectColumnValuesToBeIntegers(ColumnMapExpectation):
    """Each value is an integer written in digits (a spreadsheet's `12.0` included)."""

    map_metric = "column_values.returnstats_integer"
    success_keys = ("mostly",)


class ColumnValuesGb11643(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_gb11643"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _per_value(column, values.is_valid_normalised_id)


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
        return _per_value(column, values.is_valid_uscc)


class ExpectColumnValuesToBeGb32100CreditCodes(ColumnMapExpectation):
    """Each value is a valid GB 32100 unified social credit code (python-stdnum's
    `cn.uscc`: form and check character)."""

    map_metric = "column_values.returnstats_gb32100"
    success_keys = ("mostly",)


class ColumnValuesCountyCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.returnstats_county_code"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _per_value(column, values.is_county_code)


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
# These compare with what the characters of the ID say and check the ID itself only on
# the rows that disagree (few): a row whose ID is invalid passes, another rule flags it.

def _arrow(column: pd.Series) -> pa.Array:
    return pa.array(column.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)


def _pass_unless_valid(disagree: np.ndarray, codes: pd.Series,
                       valid: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """True where the row passes: it agrees, or its code is not valid."""
    passes = ~disagree
    if disagree.any():
        passes[disagree] = ~valid(codes[disagree]).to_numpy(dtype=bool)
    return passes


class ColumnPairSexMatchesId(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.returnstats_sex_matches_id"
    condition_domain_keys = _PAIR_DOMAIN

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        digit = pc.utf8_slice_codeunits(_arrow(column_B), 16, 17)
        odd = pc.is_in(digit, value_set=pa.array(list("13579"), pa.large_string()))
        id_sex = np.where(odd.to_numpy(zero_copy_only=False), "M", "F")
        sex = column_A.to_numpy(dtype=object)
        disagree = np.isin(sex, ["M", "F"]) & (sex != id_sex)
        return pd.Series(_pass_unless_valid(disagree, column_B, values.is_valid_normalised_id),
                         index=column_A.index)


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
        digits = pc.utf8_slice_codeunits(_arrow(column_B), 6, 14)
        id_birth = pc.strptime(digits, format="%Y%m%d", unit="s", error_is_null=True)
        id_birth = id_birth.to_numpy(zero_copy_only=False).astype("datetime64[s]")
        given = column_A.to_numpy(dtype="datetime64[s]")
        disagree = given != id_birth  # NaT never equals: an unreadable ID date disagrees
        return pd.Series(_pass_unless_valid(disagree, column_B, values.is_valid_normalised_id),
                         index=column_A.index)


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
        registered = pc.utf8_slice_codeunits(_arrow(column_A), 2, 4)
        disagree = registered.to_numpy(zero_copy_only=False) != column_B.to_numpy(dtype=object)
        return pd.Series(_pass_unless_valid(disagree, column_A, values.is_valid_uscc),
                         index=column_A.index)


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
