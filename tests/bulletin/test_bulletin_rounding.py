"""Press-release rounding of headline counts at every edge, expected strings written from
SPEC §7 ("80余万人" for a multiple of ten 万, "13万余人" otherwise, "81万人" when equal;
English "more than 810,000")."""

import pytest
from returnstats.bulletin.rounding import headline_bounds, headline_number

EDGES = [
    (0, "0", "0"),
    (9_999, "9,999", "9999"),
    (10_000, "10,000", "1万"),
    (10_001, "more than 10,000", "1万余"),
    (19_999, "more than 10,000", "1万余"),
    (20_000, "20,000", "2万"),
    (99_999, "more than 90,000", "9万余"),
    (100_000, "100,000", "10万"),
    (100_001, "more than 100,000", "10余万"),
    (109_999, "more than 100,000", "10余万"),
    (110_000, "110,000", "11万"),
    (138_514, "more than 130,000", "13万余"),  # issue 19: not "13余万"
    (800_000, "800,000", "80万"),
    (803_000, "more than 800,000", "80余万"),
    (809_999, "more than 800,000", "80余万"),
    (810_000, "810,000", "81万"),
    (810_001, "more than 810,000", "81万余"),
    (1_000_000, "1,000,000", "100万"),
    (1_000_001, "more than 1,000,000", "100余万"),
    (99_990_000, "99,990,000", "9999万"),
    (99_999_999, "more than 99,990,000", "9999万余"),
    (100_000_000, "100,000,000", "1亿"),
    (100_000_001, "more than 100,000,000", "1亿余"),
    (100_009_999, "more than 100,000,000", "1亿余"),
    (100_010_000, "100,010,000", "1亿零1万"),
    (105_000_000, "105,000,000", "1亿零500万"),
    (123_450_000, "123,450,000", "1亿2345万"),
    (123_456_789, "more than 123,450,000", "1亿2345万余"),
    (290_000_000, "290,000,000", "2亿9000万"),
]


@pytest.mark.parametrize(("n", "en", "zh"), EDGES)
def test_headline_number_rounds_like_a_press_release(n, en, zh):
    assert headline_number(n, "en") == en
    assert headline_number(n, "zh") == zh


@pytest.mark.parametrize(("n", "en", "zh"), EDGES)
def test_headline_text_reads_back_to_the_range_it_stands_for(n, en, zh):
    wan = n // 10_000 * 10_000
    expected = (n, n) if n < 10_000 or n == wan else (wan + 1, wan + 9_999)
    assert headline_bounds(en, "en") == expected
    assert headline_bounds(zh, "zh") == expected


@pytest.mark.parametrize(("text", "lang"), [
    ("810,123", "en"), ("more than 810,001", "en"), ("more than 9,999", "en"),
    ("13余万", "zh"), ("80万余", "zh"), ("10000万", "zh"), ("1亿0万", "zh"), ("1亿500万", "zh"),
    ("12345", "zh"), ("", "zh"), ("余", "zh"), ("万", "zh"),
])
def test_headline_bounds_rejects_what_the_rounding_never_writes(text, lang):
    with pytest.raises(ValueError):
        headline_bounds(text, lang)
