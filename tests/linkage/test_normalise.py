from datetime import date

import pyarrow as pa
from returnstats.linkage import normalise
from synthetic import id_number


def test_full_width_lower_case_spaced_id_is_normalised():
    valid = id_number("510104", date(1990, 5, 1), 7, female=False)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in valid[:9]) + " " + valid[9:].lower()
    out = normalise.normalise_id_numbers(pa.array([full_width, "  ", None]))
    assert out.to_pylist() == [valid, None, None]


def test_id_with_wrong_check_digit_is_not_valid():
    valid = id_number("510104", date(1990, 5, 1), 7, female=False)
    wrong = valid[:17] + ("0" if valid[17] != "0" else "1")
    out = normalise.valid_id_numbers(pa.array([valid, wrong, "123", None, valid[:17] + "x"]))
    assert out.to_pylist() == [valid, None, None, None, None]


def test_traditional_name_becomes_simplified():
    assert normalise.normalise_names(pa.array(["張偉", "劉國華"])).to_pylist() == ["张伟", "刘国华"]


def test_names_of_the_sample_generator_survive_traditional_spelling():
    """Every name the sample generator can draw (surname + one or two given characters)
    is left as it is, and its traditional spelling (as a person writes it, character by
    character; the traditional forms are hand-written here, not OpenCC's) comes back to it."""
    from returnstats.sample.reference import GIVEN_FEMALE, GIVEN_MALE, SURNAMES

    given = sorted(set(GIVEN_MALE + GIVEN_FEMALE))
    names = [s + g for s in SURNAMES for g in given] + [s + g + h for s in SURNAMES[:10]
                                                        for g in given for h in given]
    assert normalise.normalise_names(pa.array(names)).to_pylist() == names
    traditional = {"沈靜": "沈静", "張寧": "张宁", "鍾麗": "钟丽", "馮偉": "冯伟", "歐陽傑": "欧阳杰",
                   "閆鵬": "闫鹏", "譚濤": "谭涛", "龔華": "龚华", "賀艷": "贺艳", "鄧輝": "邓辉"}
    assert normalise.normalise_names(pa.array(list(traditional))).to_pylist() == list(
        traditional.values())


def test_middle_dots_and_spaces_are_removed_from_names():
    out = normalise.normalise_names(pa.array(["阿不都·热合曼", "阿不都•热合曼", "张 伟", "Mary.Smith"]))
    assert out.to_pylist() == ["阿不都热合曼", "阿不都热合曼", "张伟", "marysmith"]


def test_homophone_names_share_pinyin():
    pinyin = normalise.name_pinyin(pa.array(["张伟", "张玮", "张强"])).to_pylist()
    assert pinyin[0] == pinyin[1] == "zhangwei"
    assert pinyin[2] != pinyin[0]


def test_phones_with_country_code_spaces_and_dashes_become_11_digits():
    out = normalise.normalise_phones(
        pa.array(["+86 138-0013-8000", "8613800138000", "138 0013 8000", "０08613800138000",
                   "12345", "02012345678", "138001380001", "+86 138001380001", None]))
    # An extra digit is damage: the phone is missing evidence, not another phone.
    assert out.to_pylist() == ["13800138000"] * 4 + [None] * 5
