"""Bench targets: a time is met at or under its limit, a quality figure at or over it."""

from __future__ import annotations

from returnstats.bench.report import Report, Target, parse_lines


def test_upper_and_lower_bounds_are_judged_each_their_way() -> None:
    report = Report(scale=1)
    report.add("linkage", "speed_seconds", 61.0, "s")
    report.add("linkage", "oos_precision", 0.9996, "ratio")
    report.add("linkage", "oos_recall", 0.99, "ratio")
    report.judge([Target("speed", "linkage.speed_seconds", 60, "s"),
                  Target("precision", "linkage.oos_precision", 0.9995, "", at_least=True),
                  Target("recall", "linkage.oos_recall", 0.995, "", at_least=True),
                  Target("absent", "linkage.oos_mangled_id_recall", 0.99, "", at_least=True)])
    assert [t.verdict for t in report.targets] == ["FAIL", "PASS", "FAIL", "SKIP"]
    printed = parse_lines("\n".join(report.lines()))
    assert printed["target.precision"] == ("PASS", "0.9996>=0.9995")
    assert printed["target.speed"] == ("FAIL", "61<=60s")
    assert ">= 0.9995" in report.table()
