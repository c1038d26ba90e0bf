"""Normalisation of the identifying fields before comparison (SPEC §4).

Every function works on whole columns and computes each distinct value once: OpenCC and
pypinyin are slow per call, and a day's records repeat the same names many times.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import pandas as pd

# Separators inside minority and foreign names (张·买买提, Mary·Smith, Mary.Smith).
_NAME_DROP = re.compile(r"[\s·•\.．・‧∙⋅]+")
_NON_DIGIT = re.compile(r"\D+")
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def _map_distinct(values: pd.Series, function) -> pd.Series:
    """Apply `function` once per distinct non-null value; nulls stay null."""
    distinct = values.dropna().unique()
    mapping = {value: function(value) for value in distinct}
    return values.map(mapping).astype("string")


def _one_id(value: str) -> str | None:
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.upper()
    text = "".join(text.split())
    return text or None


def id_valid(normalised: str | None) -> bool:
    """GB 11643: 17 digits and a check character (mod 11)."""
    if not normalised or not _ID_PATTERN.match(normalised):
        return False
    total = sum(int(d) * w for d, w in zip(normalised[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == normalised[17]


def normalise_id_numbers(values: pd.Series) -> pd.Series:
    """Upper-case, half-width, no whitespace; empty becomes null. Validity is not checked."""
    return _map_distinct(values, _one_id)


def valid_id_numbers(values: pd.Series) -> pd.Series:
    """The normalised ID where it is valid (length and check digit), else null."""
    normalised = normalise_id_numbers(values)
    verdicts = {value: id_valid(value) for value in normalised.dropna().unique()}
    valid = [isinstance(value, str) and verdicts[value] for value in normalised.tolist()]
    return normalised.where(pd.Series(valid, index=normalised.index, dtype=bool))


@cache
def _is_simplified(char: str) -> bool:
    return _t2s().convert(char) == char


def _one_name(value: str) -> str | None:
    text = unicodedata.normalize("NFKC", str(value))
    text = _NAME_DROP.sub("", text)
    # OpenCC is slow per call and most names are already simplified: convert (phrase-aware)
    # only names holding a character that changes.
    if not all(_is_simplified(char) for char in text):
        text = _t2s().convert(text)
    return text.lower() or None


def normalise_names(values: pd.Series) -> pd.Series:
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


def name_pinyin(normalised_names: pd.Series) -> pd.Series:
    """Toneless pinyin of a normalised name, so homophone spellings (张伟/张玮) agree."""
    return _map_distinct(normalised_names, _one_pinyin)


def _one_phone(value: str) -> str | None:
    digits = _NON_DIGIT.sub("", unicodedata.normalize("NFKC", str(value)))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    if len(digits) == 11 and digits.startswith("1"):
        return digits
    return None


def normalise_phones(values: pd.Series) -> pd.Series:
    """Mainland mobile numbers as 11 digits (+86, spaces, dashes removed); else null."""
    return _map_distinct(values, _one_phone)


def name_tail(normalised_names: pd.Series) -> pd.Series:
    """Toneless pinyin of a normalised name's last character: shared by every pair of
    names that agree (exact, same pinyin, same given name), so it narrows a block."""
    return _map_distinct(normalised_names, lambda value: _char_pinyin(value[-1]))
