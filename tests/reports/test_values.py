"""Value parsers at their edges (SPEC §2.2 notes)."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returnstats.reports import values
from stdnum.cn import ric


def S(*items):
    return pd.Series(list(items), dtype=object)


def test_dates_in_every_accepted_form():
    parsed = values.parse_date(S("2020-03-01", "2020/3/1", "20200301", "2020年3月1日",
                                 "２０２０年３月１日", "2020-03-01T00:00:00", "2020-03-01 08:30",
                                 " 2020.03.01 "))
    assert parsed.tolist() == [dt.date(2020, 3, 1)] * 8


def test_impossible_or_foreign_dates_are_none():
    parsed = values.parse_date(S("2020-02-30", "2020-13-01", "03/01/2020", "202031", "x", "",
                                 None))
    assert parsed.tolist() == [None] * 7


def test_datetime64_dates_keep_the_same_rules_on_every_call():
    cells = S("2020-03-01", "２０２０年３月１日", "9999-12-31", "0001-01-01", "2020-02-30",
              "2020-13-01", "x", None)
    expected = np.array(["2020-03-01", "2020-03-01", "9999-12-31", "0001-01-01",
                         "NaT", "NaT", "NaT", "NaT"], dtype="datetime64[s]")
    for _ in range(2):  # the second call answers from the cache of parsed dates
        parsed = values.parse_datetime64(cells)
        assert parsed.dtype == "datetime64[s]"
        assert np.array_equal(parsed.to_numpy(), expected, equal_nan=True)


def test_modes_and_aliases_case_insensitive():
    parsed = values.parse_mode(S("专列", "Special Train", "BUS", "专车", "包厢", "Box", "plane",
                                 "charter_flight", "train", None))
    assert parsed.tolist() == ["special_train", "special_train", "chartered_bus",
                               "chartered_bus", "train_carriage", "train_carriage",
                               "charter_flight", "charter_flight", None, None]


def test_provinces_by_code_and_name():
    assert values.parse_province(S("44", "广东", "广东省", "Guangdong", "内蒙古", "新疆",
                                   "广西", "99", None)).tolist() == [
        "44", "44", "44", "44", "15", "65", "45", None, None]


def test_small_code_lists():
    assert values.parse_sex(S("男", "女", "m", "F", "x", None)).tolist() == [
        "M", "F", "M", "F", None, None]
    assert values.parse_risk(S("低", "中", "高", "HIGH", "极高")).tolist() == [
        "low", "medium", "high", "high", None]
    assert values.parse_bool(S("是", "否", "TRUE", "false", "1", "0", "2")).tolist() == [
        True, False, True, False, True, False, None]
    assert values.parse_channel(S("协助返岗", "余缺调剂", "挖掘本地潜力", "劳务输出",
                                  "local_recruitment", "其他")).tolist() == [
        "return_assist", "surplus_deficit", "local_recruitment", "labour_export",
        "local_recruitment", None]


def test_integers():
    parsed = values.parse_int(S("12", " ３ ", "-4", "12.0", "1.5", "1e3", "", None,
                                "99999999999999999999"))
    assert str(parsed.dtype) == "Int64"
    assert parsed.tolist() == [12, 3, -4, 12, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA]


def test_id_numbers_normalised_and_checked():
    raw = S("36042619910101007１", "360426 1991-0101-0071", "36042619910101007x",
            "4.10102E+17", "", None)
    assert values.normalise_id(raw).tolist() == [
        "360426199101010071", "360426199101010071", "36042619910101007X", "4.10102E+17",
        None, None]
    assert values.is_valid_id(raw).tolist() == [True, True, False, False, False, False]


def test_id_with_unknown_county_is_invalid_not_an_error():
    body = "99010119900101001"
    number = body + ric.calc_check_digit(body + "0")
    assert values.is_valid_id(S(number)).tolist() == [False]


def test_is_valid_id_agrees_with_stdnum_on_many_numbers():
    rng = random.Random(7)
    counties = ["110101", "110103", "360426", "440305", "419001", "990101", "110100"]
    numbers = []
    for _ in range(3000):
        body = (rng.choice(counties) + f"{rng.randint(1890, 2030)}{rng.randint(0, 13):02d}"
                f"{rng.randint(0, 32):02d}{rng.randint(0, 999):03d}")
        check = ric.calc_check_digit(body + "0") if rng.random() < 0.8 else rng.choice("0X5")
        numbers.append(body + check)
    assert values.is_valid_id(pd.Series(numbers)).tolist() == [ric.is_valid(n) for n in numbers]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=20))
def test_parsers_never_raise(cells):
    s = pd.Series(cells, dtype=object)
    for parse in (values.parse_date, values.parse_mode, values.parse_province, values.parse_sex,
                  values.parse_risk, values.parse_bool, values.parse_int, values.parse_channel,
                  values.normalise_id, values.normalise_phone, values.normalise_uscc,
                  values.is_valid_id, values.is_valid_uscc, values.is_county_code):
        out = parse(s)
        assert len(out) == len(s) and out.index.equals(s.index)


def test_phones():
    assert values.normalise_phone(S("+86 138-0013-8000", "0086 13800138000", "１３８００１３８０００",
                                    "12800138000", "1380013800", "010-12345678", None)).tolist() == [
        "13800138000", "13800138000", "13800138000", None, None, None, None]


def test_uscc():
    from tests.builders import make_uscc

    good = make_uscc()
    raw = S(good.lower(), " ".join(good), good[:-1] + ("0" if good[-1] != "0" else "1"), None)
    assert values.normalise_uscc(raw).tolist()[:2] == [good, good]
    assert values.is_valid_uscc(raw).tolist() == [True, True, False, False]


@pytest.mark.parametrize("code,ok", [
    ("110101", True),    # Dongcheng, Beijing
    ("110103", True),    # Chongwen: abolished 2010, still found on registrations
    ("440305", True),
    ("441900", True),    # Dongguan: prefecture-level city without counties
    ("110100", False),   # prefecture level
    ("440000", False),   # province level
    ("990101", False),   # no such province
    ("119999", False),   # not in the county table
    ("11010", False), ("1101011", False), ("１１０１０１", True), (None, False),
])
def test_county_codes(code, ok):
    assert values.is_county_code(S(code)).tolist() == [ok]


def test_parsers_keep_the_index():
    s = pd.Series(["2020-03-01", None], index=[10, 20], dtype=object)
    assert values.parse_date(s).index.tolist() == [10, 20]
    assert values.is_valid_id(s).index.tolist() == [10, 20]
