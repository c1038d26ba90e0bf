"""How the growth benches time day 1 against day 30: taking turns, medians of each."""

from __future__ import annotations

import pytest
from returnstats.bench.day import alternating_medians
from returnstats.bench.linkage import bench_growth


def test_runs_take_turns_and_each_gets_its_own_medians():
    calls: list[str] = []

    def run(name: str, seconds: list[float]):
        laps = iter(seconds)

        def once():
            calls.append(name)
            lap = next(laps)
            return lap, {"write": lap / 2}
        return once

    measured = alternating_medians({"first": run("first", [3.0, 1.0, 2.0]),
                                    "last": run("last", [9.0, 7.0, 8.0])}, 3)
    assert calls == ["first", "last"] * 3
    assert measured == {"first": (2.0, {"write": 1.0}), "last": (8.0, {"write": 4.0})}


def test_linkage_growth_reports_both_days_and_their_ratio():
    measured = bench_growth(2, 600)
    day1, day2 = measured["growth_day1_seconds"][0], measured["growth_day2_seconds"][0]
    assert day1 > 0 and day2 > 0
    assert measured["growth_ratio"][0] == pytest.approx(day2 / day1)


def test_growth_needs_two_days():
    with pytest.raises(ValueError, match="at least two days"):
        bench_growth(1, 600)
