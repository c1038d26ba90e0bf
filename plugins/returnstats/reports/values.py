"""Vectorised parsers of cell values (SPEC §2.2 value notes), used by validation.

Each function takes a pandas Series of `str`/None cells and returns a Series on the same
index: the parsed value, or NA where the cell is empty or cannot be parsed. None of them
raises on bad input. Work is done once per distinct value, so a million-row column with
few distinct values costs little; `is_valid_id` checks check digits and birth dates with
numpy and reads the place table once per distinct county.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from returnstats.reference import province_code, provinces

MODES: dict[str, tuple[str, ...]] = {
    "special_train": ("专列", "special train"),
    "chartered_bus": ("包车", "专车", "special car", "chartered bus", "bus"),
    "train_carriage": ("车厢", "包厢", "专用车厢", "carriage", "compartment", "box"),
    "charter_flight": ("包机", "charter flight", "flight", "plane"),
}
CHANNELS: dict[str, tuple[str, ...]] = {
    "return_assist": ("协助返岗",),
    "surplus_deficit": ("余缺调剂",),
    "local_recruitment": ("挖掘本地潜力",),
    "labour_export": ("劳务输出",),
}
_SEXES = {"男": "M", "m": "M", "male": "M", "女": "F", "f": "F", "female": "F"}
_RISKS = {"low": "low", "medium": "medium", "high": "high",
          "低": "low", "中": "medium", "高": "high",
          "低风险": "low", "中风险": "medium", "高风险": "high"}
_BOOLS = {"是": True, "否": False, "true": True, "false": False, "1": True, "0": False,
          "yes": True, "no": False}


# ---------------------------------------------------------------- machinery

def _distinct(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(present mask, code of each present cell, distinct present values)."""
    cells = pd.Series(s, copy=False).to_numpy(dtype=object)
    present = ~pd.isna(cells)
    codes, uniques = pd.factorize(cells[present] if not present.all() else cells)
    return present, codes, np.asarray(uniques, dtype=object)


def _by_distinct(s: pd.Series, parse: Callable[[str], object], dtype: str = "object",
                 missing: object = None) -> pd.Series:
    """Apply `parse` once per distinct non-empty value; empty cells and failures → missing."""
    present, codes, uniques = _distinct(s)
    out = np.full(len(present), missing, dtype=object)
    if len(uniques):
        parsed = np.empty(len(uniques), dtype=object)
        for i, value in enumerate(uniques):
            try:
                parsed[i] = parse(str(value))
            except Exception:  # a parser never raises on bad input: unparseable is missing
                parsed[i] = missing
        out[present] = parsed[codes]
    result = pd.Series(out, index=s.index, dtype=object)
    if dtype != "object":
        result = result.astype(dtype)
    return result


def categorical(present: np.ndarray, codes: np.ndarray, values: np.ndarray,
                 index: pd.Index) -> pd.Series:
    """A categorical Series whose present cells take `values[codes]` (values may repeat)."""
    value_codes, categories = pd.factorize(values)
    full = np.full(len(present), -1, dtype=np.int32)
    full[present] = value_codes[codes]
    return pd.Series(pd.Categorical.from_codes(full, categories=categories), index=index)


def derive(s: pd.Series, function: Callable[[str], object]) -> pd.Series:
    """`function` of each value of the categorical Series `s`, as a categorical Series."""
    codes = s.cat.codes.to_numpy()
    present = codes >= 0
    derived = np.array([function(v) for v in s.cat.categories], dtype=object)
    return categorical(present, codes[present], derived, s.index)


def canonical(s: pd.Series, parse: Callable[[str], object]) -> pd.Series:
    """`parse(value)` where it gives a value, else the value as given, as a categorical
    Series (one parse per distinct value; few distinct values are cheap to compare,
    filter and take)."""
    present, codes, uniques = _distinct(s)
    out = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):
        try:
            parsed = parse(str(value))
        except Exception:  # a parser never raises on bad input: the value stays as given
            parsed = None
        out[i] = value if parsed is None else parsed
    return categorical(present, codes, out, s.index)


def map_distinct(s: pd.Series, function: Callable[[str], object]) -> pd.Series:
    """`function` applied once per distinct non-empty value (object Series; None where the
    cell is empty or `function` fails)."""
    return _by_distinct(s, function)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _fold(text: str) -> str:
    """Case, width and separator-insensitive form used for code lists."""
    return re.sub(r"[\s_\-]+", " ", _nfkc(text).lower()).strip()


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_fold(alias): canonical for canonical, aliases in table.items()
            for alias in (canonical, *aliases)}


_MODE_LOOKUP = _lookup(MODES)
_CHANNEL_LOOKUP = _lookup(CHANNELS)


# ---------------------------------------------------------------- dates

_TIME = r"(?:[T ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE_FORMS = [
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + _TIME),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
    re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?" + _TIME),
]


def _date(text: str) -> dt.date | None:
    text = _nfkc(text)
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return dt.date(year, month, day)
    return None


def parse_date(s: pd.Series) -> pd.Series:
    """`datetime.date` or None: 2020-03-01, 2020/3/1, 20200301, 2020年3月1日, ISO datetimes."""
    return _by_distinct(s, _date)


_EPOCH = dt.date(1970, 1, 1)
_NAT = np.iinfo(np.int64).min  # NaT as an integer of datetime64


@lru_cache(maxsize=1 << 16)
def _day_number(text: str) -> int:
    """`_date(text)` as days since 1970-01-01, `_NAT` when unparseable. Cached: the same
    dates (birth dates above all) recur from file to file."""
    try:
        day = _date(text)
    except Exception:  # a parser never raises on bad input: unparseable is missing
        return _NAT
    return _NAT if day is None else (day - _EPOCH).days


def parse_datetime64(s: pd.Series) -> pd.Series:
    """`parse_date` as datetime64[s], NaT where absent or unparseable (one parse per
    distinct value)."""
    return parse_dates_keeping_text(s)[0]


def parse_dates_keeping_text(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`parse_datetime64(s)` and the text as given, as a categorical Series."""
    present, codes, uniques = _distinct(s)
    days = np.fromiter(map(_day_number, map(str, uniques)), dtype=np.int64, count=len(uniques))
    parsed = days.view("datetime64[D]").astype("datetime64[s]")
    out = np.full(len(present), np.datetime64("NaT"), dtype="datetime64[s]")
    out[present] = parsed[codes]
    return (pd.Series(out, index=s.index, dtype="datetime64[s]"),
            categorical(present, codes, uniques, s.index))


# ---------------------------------------------------------------- code lists

def mode_of(text: str) -> str | None:
    return _MODE_LOOKUP.get(_fold(text))


def sex_of(text: str) -> str | None:
    return _SEXES.get(_fold(text))


def risk_of(text: str) -> str | None:
    return _RISKS.get(_fold(text))


def parse_mode(s: pd.Series) -> pd.Series:
    """Canonical mode (special_train, chartered_bus, train_carriage, charter_flight) or None."""
    return _by_distinct(s, lambda v: _MODE_LOOKUP.get(_fold(v)))


def parse_channel(s: pd.Series) -> pd.Series:
    """Canonical channel or None."""
    return _by_distinct(s, lambda v: _CHANNEL_LOOKUP.get(_fold(v)))


def parse_province(s: pd.Series) -> pd.Series:
    """Two-digit province code for a code or a Chinese/English province name, or None."""
    return _by_distinct(s, province_code)


def parse_sex(s: pd.Series) -> pd.Series:
    """'M', 'F' or None (男/女/M/F/male/female)."""
    return _by_distinct(s, lambda v: _SEXES.get(_fold(v)))


def parse_risk(s: pd.Series) -> pd.Series:
    """'low', 'medium', 'high' or None (also 低/中/高)."""
    return _by_distinct(s, lambda v: _RISKS.get(_fold(v)))


def parse_bool(s: pd.Series) -> pd.Series:
    """True/False or None (是/否, true/false, 1/0, yes/no)."""
    return _by_distinct(s, lambda v: _BOOLS.get(_fold(v)))


_INTEGER = re.compile(r"([+-]?\d+)(?:\.0*)?")
_INT64 = 2**63


def _int(text: str) -> int | None:
    match = _INTEGER.fullmatch(_nfkc(text))
    if not match:
        return None
    value = int(match.group(1))
    return value if -_INT64 <= value < _INT64 else None


def parse_int(s: pd.Series) -> pd.Series:
    """Int64: an integer written as digits (optionally `.0` from a spreadsheet), else NA."""
    return _by_distinct(s, _int).astype("Int64")


# ---------------------------------------------------------------- identifiers

def _to_arrow(s: pd.Series) -> pa.Array:
    values = pd.Series(s, copy=False).to_numpy(dtype=object)
    try:
        return pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):  # a non-text cell: take its text
        return pa.array([None if pd.isna(v) else str(v) for v in values],
                        type=pa.large_string())


def _from_arrow(array: pa.Array, index: pd.Index) -> pd.Series:
    empty = pc.equal(pc.utf8_length(array), 0)
    array = pc.if_else(empty, pa.scalar(None, array.type), array)
    return pd.Series(array.to_numpy(zero_copy_only=False), index=index, dtype=object)


def _arrow_id(s: pd.Series) -> pa.Array:
    array = pc.utf8_normalize(_to_arrow(s), "NFKC")
    # RE2 `\s` is ASCII whitespace; NFKC has already turned full-width spaces into ' '.
    return pc.utf8_upper(pc.replace_substring_regex(array, r"[\s\-]+", ""))


def normalise_id(s: pd.Series) -> pd.Series:
    """ID number upper-case, half-width, without spaces or dashes (None if empty)."""
    return _from_arrow(_arrow_id(s), s.index)


def normalise_phone(s: pd.Series) -> pd.Series:
    """Mainland mobile as 11 digits (+86/0086, spaces, dashes removed), else None."""
    array = pc.utf8_normalize(_to_arrow(s), "NFKC")
    array = pc.replace_substring_regex(array, r"[\s\-().]+", "")
    array = pc.replace_substring_regex(array, r"^(?:\+86|0086)", "")
    mobile = pc.fill_null(pc.match_substring_regex(array, r"^1[3-9][0-9]{9}$"), False)
    return _from_arrow(pc.if_else(mobile, array, pa.scalar(None, array.type)), s.index)


def normalise_phone_text(s: pd.Series) -> pd.Series:
    """The phone text without separators or a +86/0086 prefix, half-width (None if empty);
    whether it is a mainland mobile number is the phone rule's verdict."""
    array = pc.utf8_normalize(_to_arrow(s), "NFKC")
    array = pc.replace_substring_regex(array, r"[\s\-().]+", "")
    return _from_arrow(pc.replace_substring_regex(array, r"^(?:\+86|0086)", ""), s.index)


def uscc_of(text: str) -> str:
    """One credit code upper-case, half-width, without whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def normalise_uscc(s: pd.Series) -> pd.Series:
    """USCC upper-case, half-width, without spaces (None if empty)."""
    array = pc.utf8_normalize(_to_arrow(s), "NFKC")
    return _from_arrow(pc.utf8_upper(pc.replace_substring_regex(array, r"\s+", "")), s.index)


_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"0123456789X", dtype=np.uint8)
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@cache
def _id_place_years(county: int) -> tuple[tuple[int, int], ...]:
    """Birth years (inclusive ranges) for which stdnum knows `county` as a GB 11643 address
    code; empty when it does not know it at all.

    The same reading of stdnum's table as `stdnum.cn.ric.get_birth_place`, done once per
    county instead of once per (county, birth year): an entry without a `[start-end]`
    period is valid for every year, and an entry stdnum could not read ends the list.
    """
    from stdnum import numdb

    try:  # stdnum raises InvalidComponent, and KeyError for some unknown counties
        parts = numdb.get("cn/loc").info(f"{county:06d}")
        info = {k: v for _, props in parts for k, v in props.items()}
        entries = info["county"].split(",")
    except Exception:
        return ()
    years = []
    for entry in entries:
        if not entry.startswith("["):
            years.append((0, 10**4))
            break
        try:
            period, _ = entry[1:].split("]")
            start, end = period.split("-")
            years.append((int(start) if start else 0, int(end) if end else 10**4))
        except ValueError:
            break
    return tuple(years)


@lru_cache(maxsize=1 << 18)
def _id_place_known(county: int, year: int) -> bool:
    """Whether stdnum knows `county` as a place assigned in `year` (GB 11643 address code).
    Cached: the same (county, birth year) pairs recur from file to file."""
    return any(start <= year <= end for start, end in _id_place_years(county))


def _id_validity(ids: pa.Array) -> np.ndarray:
    """Validity of normalised ID numbers (see `is_valid_id`) as a numpy bool array."""
    form = pc.fill_null(pc.match_substring_regex(ids, r"^[0-9]{17}[0-9X]$"), False)
    form_np = form.to_numpy(zero_copy_only=False)
    result = np.zeros(len(ids), dtype=bool)
    candidates = np.flatnonzero(form_np)
    if len(candidates):
        codes = _id_matrix(pc.filter(ids, form))
        digits = codes[:, :17].astype(np.int64) - 48
        check_ok = _ID_CHECK[(1 - digits @ _ID_WEIGHTS) % 11] == codes[:, 17]
        county = digits[:, :6] @ (10 ** np.arange(5, -1, -1))
        year = digits[:, 6:10] @ np.array([1000, 100, 10, 1])
        month = digits[:, 10:12] @ np.array([10, 1])
        day = digits[:, 12:14] @ np.array([10, 1])
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        month_ok = (month >= 1) & (month <= 12)
        days = _DAYS[np.where(month_ok, month, 0)] + (leap & (month == 2))
        ok = check_ok & (year >= 1) & month_ok & (day >= 1) & (day <= days)
        keys, inverse = np.unique(county[ok] * 10000 + year[ok], return_inverse=True)
        known = np.array([_id_place_known(c, y) for c, y in
                          zip((keys // 10000).tolist(), (keys % 10000).tolist())], dtype=bool)
        ok[np.flatnonzero(ok)] = known[inverse.reshape(-1)]
        result[candidates] = ok
    return result


def _id_matrix(ids: pa.Array) -> np.ndarray:
    """18-character ASCII ID numbers (no nulls) as an (n, 18) uint8 matrix, without copies:
    the Arrow data buffer already is that matrix."""
    ids = ids.cast(pa.large_string())
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[
        ids.offset: ids.offset + len(ids) + 1]
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)
    return data[offsets[0]: offsets[-1]].reshape(-1, 18)


def is_valid_id(s: pd.Series) -> pd.Series:
    """GB 11643 ID number valid, as `stdnum.cn.ric.is_valid` decides (form, check digit,
    birth date, place known for the birth year), after `normalise_id`; empty → False.

    Vectorised: check digits and dates in numpy, stdnum's place table read once per
    distinct county.
    """
    return pd.Series(_id_validity(_arrow_id(s)), index=s.index, dtype=bool)


def is_valid_normalised_id(s: pd.Series) -> pd.Series:
    """`is_valid_id` for ID numbers already normalised (`normalise_id`)."""
    return pd.Series(_id_validity(_to_arrow(s)), index=s.index, dtype=bool)


def check_ids(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`normalise_id(s)` and `is_valid_id(s)` in one pass over the text."""
    ids = _arrow_id(s)
    return _from_arrow(ids, s.index), pd.Series(_id_validity(ids), index=s.index, dtype=bool)


def id_facts(s: pd.Series, valid: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Sex ('M'/'F', object) and birth date (datetime64[s]) encoded in the ID numbers
    `valid` marks (normalised, as `check_ids` gives them); None/NaT elsewhere."""
    chosen = np.flatnonzero(valid.to_numpy(dtype=bool))
    sex = np.full(len(s), None, dtype=object)
    birth = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[s]")
    if len(chosen):
        codes = _id_matrix(pa.array(s.to_numpy(dtype=object)[chosen], type=pa.large_string()))
        digits = codes[:, 6:17].astype(np.int64) - 48
        sex[chosen] = np.where(digits[:, 10] % 2 == 1, "M", "F")
        year = digits[:, 0:4] @ np.array([1000, 100, 10, 1])
        month = digits[:, 4:6] @ np.array([10, 1])
        day = digits[:, 6:8] @ np.array([10, 1])
        birth[chosen] = ((year - 1970).astype("datetime64[Y]").astype("datetime64[M]")
                         + (month - 1)).astype("datetime64[D]") + (day - 1)
    return (pd.Series(sex, index=s.index, dtype=object),
            pd.Series(birth, index=s.index, dtype="datetime64[s]"))


@lru_cache(maxsize=65536)
def _uscc_ok(value: str) -> bool:
    from stdnum.cn import uscc

    try:
        return bool(uscc.is_valid(value))
    except Exception:
        return False


def is_valid_uscc(s: pd.Series) -> pd.Series:
    """GB 32100 unified social credit code valid (`stdnum.cn.uscc.is_valid`); empty → False."""
    return check_usccs(s)[1]


def check_usccs(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`normalise_uscc(s)` and `is_valid_uscc(s)` in one pass over the text."""
    normalised = normalise_uscc(s)
    return normalised, _by_distinct(normalised, _uscc_ok, missing=False).astype(bool)


# ---------------------------------------------------------------- county codes

# Prefecture-level cities without county-level divisions: their code ending in 00 is the
# county-level code on household registrations and ID cards.
PREFECTURES_WITHOUT_COUNTIES = frozenset({"441900", "442000", "460400", "620200"})


@lru_cache(maxsize=1)
def _county_table():
    """stdnum's GB/T 2260 table (stdnum/cn/loc.dat, read through stdnum.numdb), or None."""
    try:
        from stdnum import numdb

        return numdb.get("cn/loc")
    except Exception:
        return None


@cache
def _is_county(code: str) -> bool:
    code = unicodedata.normalize("NFKC", code).strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return False
    if code[:2] not in provinces():
        return False
    if code.endswith("00") and code not in PREFECTURES_WITHOUT_COUNTIES:
        return False
    table = _county_table()
    if table is None:
        return True
    parts = table.info(code)
    return len(parts) == 2 and "county" in parts[-1][1]


def is_county_code(s: pd.Series) -> pd.Series:
    """6-digit county-level GB/T 2260 code.

    Checked: six ASCII digits; the first two a province of reference/provinces.csv; not a
    province or prefecture code (ending in 00, except the four prefecture-level cities
    without counties); and listed in stdnum's county table (stdnum/cn/loc.dat, the table
    `stdnum.cn.ric` checks ID address codes against). Codes listed for any period count,
    as household registrations may carry a code since replaced. If that table cannot be
    loaded the structural checks alone decide.
    """
    return _by_distinct(s, _is_county, missing=False).astype(bool)
