"""Normalisation of the identifying fields before comparison (SPEC §4).

Every function takes and returns a whole Arrow column. Character-level rules (NFKC,
case, separators, the ID check digit) run as Arrow compute kernels or numpy over all
values at once; only what needs OpenCC or pypinyin runs in Python, once per distinct
name: a day's records repeat the same names many times.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Separators inside minority and foreign names (张·买买提, Mary·Smith, Mary.Smith).
_NAME_DROP = re.compile(r"[\s·•\.．・‧∙⋅]+")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

Column = pa.Array | pa.ChunkedArray


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def _strings(values: Column) -> pa.Array:
    """One contiguous string array (chunks combined, large_string/null types cast)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    return values.cast(pa.string())


def _empty_to_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.utf8_length(values), 0), pa.scalar(None, pa.string()), values)


def _map_distinct(values: Column, function: Callable[[str], str | None]) -> pa.Array:
    """Apply `function` once per distinct non-null value; nulls stay null."""
    encoded = _strings(values).dictionary_encode()
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return mapped.take(encoded.indices)


def normalise_id_numbers(values: Column) -> pa.Array:
    """Upper-case, half-width, no whitespace; empty becomes null. Validity is not checked."""
    text = pc.utf8_normalize(_strings(values), form="NFKC")
    text = pc.replace_substring_regex(pc.utf8_upper(text), pattern=r"\s+", replacement="")
    return _empty_to_null(text)


def _check_digits_hold(ids: pa.Array) -> np.ndarray:
    """GB 11643 mod-11 check for strings already known to be 17 ASCII digits + [0-9X]."""
    if len(ids) == 0:
        return np.zeros(0, dtype=bool)
    ids = pa.concat_arrays([ids])  # offsets from 0, one data buffer
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[: 18 * len(ids)].reshape(-1, 18)
    total = ((data[:, :17].astype(np.int64) - ord("0")) @ np.asarray(_ID_WEIGHTS)) % 11
    expected = np.frombuffer(_ID_CHECK.encode("ascii"), dtype=np.uint8)[total]
    return data[:, 17] == expected


def valid_id_numbers(values: Column) -> pa.Array:
    """The normalised ID where it is valid (18 characters, GB 11643 check digit) and not
    ending in "000", else null. A spreadsheet that stored an ID as a number kept 15 digits
    and wrote "000" after them, which passes the check one time in eleven: such an ID
    must not count as a valid ID of its own (it would forbid the merge with the real
    one). A real ID ends in "000" about one time in 1,100; it links through its first 15
    digits (`surviving_id_prefix`) like a rounded one."""
    normalised = normalise_id_numbers(values)
    shaped = pc.fill_null(pc.match_substring_regex(normalised, r"^[0-9]{17}[0-9X]$"), False)
    shaped = pc.and_(shaped, pc.invert(pc.fill_null(pc.ends_with(normalised, "000"), False)))
    positions = np.flatnonzero(shaped.to_numpy(zero_copy_only=False))
    holds = np.zeros(len(normalised), dtype=bool)
    holds[positions] = _check_digits_hold(normalised.take(pa.array(positions, pa.int64())))
    return pc.if_else(pa.array(holds), normalised, pa.scalar(None, pa.string()))


def intact_id_numbers(normalised: Column) -> pa.Array:
    """The normalised ID where it has the shape of one (17 digits and a digit or X) and
    does not end in "000" (a spreadsheet's rounding, see `valid_id_numbers`); else null.
    An intact ID may still be mistyped: it is compared by edit distance."""
    normalised = _strings(normalised)
    shaped = pc.fill_null(pc.match_substring_regex(normalised, r"^[0-9]{17}[0-9X]$"), False)
    rounded = pc.fill_null(pc.ends_with(normalised, "000"), False)
    return pc.if_else(pc.and_(shaped, pc.invert(rounded)), normalised,
                      pa.scalar(None, pa.string()))


_SCIENTIFIC = r"^([1-9])\.([0-9]{5,})E\+?17$"


def surviving_id_prefix(normalised: Column) -> pa.Array:
    """What survives of a damaged ID (one `intact_id_numbers` rejects): the first 15
    digits of a spreadsheet-rounded one; the digits of a truncated one (up to 17); the
    six county digits of one in scientific notation ("4.50511E+17": an ID's 7th digit,
    the birth year's first, is 1 or 2, so six significant digits are never rounded up)
    or of an overlong run of digits. Null for intact IDs and for what keeps no six
    leading digits."""
    normalised = _strings(normalised)
    damaged = pc.and_(pc.is_valid(normalised), pc.is_null(intact_id_numbers(normalised)))
    digits = pc.fill_null(pc.match_substring_regex(normalised, r"^[0-9]{6,}$"), False)
    rounded = pc.fill_null(pc.match_substring_regex(normalised, r"^[0-9]{15}000$"), False)
    scientific = pc.fill_null(pc.match_substring_regex(normalised, _SCIENTIFIC), False)
    mantissa = pc.replace_substring_regex(normalised, _SCIENTIFIC, r"\1\2")
    truncated = pc.fill_null(pc.match_substring_regex(normalised, r"^[0-9]{6,17}$"), False)
    prefix = pc.case_when(
        pc.make_struct(pc.and_(damaged, rounded), pc.and_(damaged, truncated),
                       pc.and_(damaged, digits), pc.and_(damaged, scientific)),
        pc.utf8_slice_codeunits(normalised, 0, 15), normalised,
        pc.utf8_slice_codeunits(normalised, 0, 6), pc.utf8_slice_codeunits(mantissa, 0, 6))
    return prefix.cast(pa.string())


def id_lead(normalised: Column) -> pa.Array:
    """The ID evidence a record carries: its intact ID, else what survives of a damaged
    one (`surviving_id_prefix`), else null. Compared by prefix: a damaged ID agrees with
    any ID it could have been."""
    return pc.coalesce(intact_id_numbers(normalised), surviving_id_prefix(normalised))


def id_birth_dates(leads: Column) -> pa.Array:
    """The birth date (ISO text) that an ID, or what survives of one (`id_lead`), still
    spells in its characters 7-14; null where it spells none."""
    leads = _strings(leads)
    digits = pc.if_else(pc.fill_null(pc.greater_equal(pc.utf8_length(leads), 14), False),
                        pc.utf8_slice_codeunits(leads, 6, 14), pa.scalar(None, pa.string()))
    parsed = pc.strptime(digits, format="%Y%m%d", unit="s", error_is_null=True)
    # strptime rolls 19900229 over to 1990-03-01: only a date that reads back is one.
    exact = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y%m%d"), digits), False)
    return pc.if_else(exact, pc.strftime(parsed, format="%Y-%m-%d"),
                      pa.scalar(None, pa.string())).cast(pa.string())


@cache
def _simplified(char: str) -> str:
    return _t2s().convert(char)


def _one_name(value: str) -> str | None:
    text = unicodedata.normalize("NFKC", value)
    text = _NAME_DROP.sub("", text)
    # Character by character: a name is not a phrase (OpenCC's phrase table would turn the
    # name 沈靜 into the word 沉静), and a cached character is converted once.
    text = "".join(_simplified(char) for char in text)
    return text.lower() or None


def normalise_names(values: Column) -> pa.Array:
    """Simplified characters, no spaces or middle dots, Latin letters lower-case."""
    return _map_distinct(values, _one_name)


@cache
def _char_pinyin(char: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(char)).lower()


def _one_pinyin(value: str) -> str:
    # Character by character: a character always sounds the same here, which is what
    # homophone matching needs (and it is far faster than phrase segmentation).
    return "".join(_char_pinyin(char) for char in value)


def name_pinyin(normalised_names: Column) -> pa.Array:
    """Toneless pinyin of a normalised name, so homophone spellings (张伟/张玮) agree."""
    return _map_distinct(normalised_names, _one_pinyin)


def name_tail(normalised_names: Column) -> pa.Array:
    """Toneless pinyin of a normalised name's last character: shared by every pair of
    names that agree (exact, same pinyin, same given name), so it narrows a block."""
    return _map_distinct(normalised_names, lambda value: _char_pinyin(value[-1]))


def normalise_phones(values: Column) -> pa.Array:
    """Mainland mobile numbers as 11 digits (+86, 0086, spaces, dashes removed); else null."""
    digits = pc.replace_substring_regex(pc.utf8_normalize(_strings(values), form="NFKC"),
                                        pattern=r"[^0-9]+", replacement="")
    length = pc.utf8_length(digits)
    digits = pc.case_when(
        pc.make_struct(pc.and_(pc.equal(length, 13), pc.starts_with(digits, "86")),
                       pc.and_(pc.equal(length, 15), pc.starts_with(digits, "0086"))),
        pc.utf8_slice_codeunits(digits, 2), pc.utf8_slice_codeunits(digits, 4), digits)
    mobile = pc.and_(pc.equal(pc.utf8_length(digits), 11), pc.starts_with(digits, "1"))
    return pc.if_else(pc.fill_null(mobile, False), digits, pa.scalar(None, pa.string()))
