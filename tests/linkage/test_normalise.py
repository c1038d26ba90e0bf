from datetime import date

import pandas as pd
from returnstats.linkage import normalise
from synthetic import id_number


def test_full_width_lower_case_spaced_id_is_normalised():
    valid = id_number("510104", date(1990, 5, 1), 7, female=False)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in valid[:9]) + " " + valid[9:].lower()
    out = normalise.normalise_id_numbers(pd.Series([full_width, "  ", None]))
    assert out.iloc[0] == valid
    assert out.iloc[1:].isna().all()


def test_id_with_wrong_check_digit_is_not_valid():
    valid = id_number("510104", date(1990, 5, 1), 7, female=False)
    wrong = valid[:17] + ("0" if valid[17] != "0" else "1")
    out = normalise.valid_id_numbers(pd.Series([valid, wrong, "123"]))
    assert out.tolist()[0] == valid
    assert out.iloc[1:].isna().all()


def test_traditional_name_becomes_simplified():
    assert normalise.normalise_names(pd.Series(["張偉", "劉國華"])).tolist() == ["张伟", "刘国华"]


def test_middle_dots_and_spaces_are_removed_from_names():
    out = normalise.normalise_names(pd.Series(["阿不都·热合曼", "阿不都•热合曼", "张 伟", "Mary.Smith"]))
    assert out.tolist() == ["阿不都热合曼", "阿不都热合曼", "张伟", "marysmith"]


def test_homophone_names_share_pinyin():
    pinyin = normalise.name_pinyin(pd.Series(["张伟", "张玮", "张强"]))
    assert pinyin.iloc[0] == pinyin.iloc[1] == "zhangwei"
    assert pinyin.iloc[2] != pinyin.iloc[0]


def test_phones_with_country_code_spaces_and_dashes_become_11_digits():
    out = normalise.normalise_phones(
        pd.Series(["+86 138-0013-8000", "8613800138000", "138 0013 8000", "０08613800138000",
                   "12345", "02012345678", None]))
    assert out.tolist()[:4] == ["13800138000"] * 4
    assert out.iloc[4:].isna().all()
