"""Press-release rounding of headline counts, expected strings written from SPEC §7."""

import pytest
from returnstats.bulletin.rounding import headline_bounds, headline_number


@pytest.mark.parametrize(
    ("n", "en", "zh"),
    [
        (9_999, "9,999", "9999"),
        (10_000, "10,000", "1万"),
        (800_000, "800,000", "80万"),
        (809_999, "more than 800,000", "80余万"),
        (810_000, "810,000", "81万"),
        (810_001, "more than 810,000", "81余万"),
        (100_000_000, "100,000,000", "10000万"),
    ],
)
def test_headline_number_rounds_like_a_press_release(n, en, zh):
    assert headline_number(n, "en") == en
    assert headline_number(n, "zh") == zh


@pytest.mark.parametrize("n", [0, 9_999, 10_000, 809_999, 810_000, 810_001, 100_000_000])
def test_headline_text_reads_back_to_a_range_holding_the_count(n):
    for lang in ("zh", "en"):
        low, high = headline_bounds(headline_number(n, lang), lang)
        assert low <= n <= high


def test_headline_bounds_rejects_a_figure_not_written_by_the_rounding():
    with pytest.raises(ValueError):
        headline_bounds("810,123", "en")
