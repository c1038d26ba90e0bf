"""Clerical review (docs/linkage.md, "Clerical review"): the uncertain pairs and their
dashboard in the restricted zone, a reviewer's decisions applied on the next run and kept
as labels. Which records are the same person comes from the independent generator."""

import re
from datetime import date

import pandas as pd
import pytest
from independent_generator import generate
from returnstats.config import load_settings
from returnstats.linkage import review
from returnstats.linkage.run import link_as_of
from synthetic import stage

KEY = b"test-key"
DAYS = [date(2021, 4, 1), date(2021, 4, 2), date(2021, 4, 3)]


def _refs(frame: pd.DataFrame) -> pd.Series:
    return frame["package"] + ":" + frame["file"] + ":" + frame["row_number"].astype(str)


def _person(result) -> dict[str, str]:
    return dict(zip(_refs(result.record_person), result.record_person["person_key"], strict=True))


def _decide(settings, name: str, rows: list[tuple[str, str, str]]) -> None:
    folder = review.review_root(settings.staging) / review.DECISIONS
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["record_a", "record_b", "decision"]).assign(
        reviewer="test").to_csv(folder / name, index=False)


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """A day linked from the independent generator (60% of IDs missing: most pairs rest on
    the model), with the truth per record reference."""
    root = tmp_path_factory.mktemp("review")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETURNSTATS_DATA", str(root))
        settings = load_settings()
    workers, truth = generate(1500, missing_id=0.6, seed=3)
    stage(settings, workers)
    truth = dict(zip(_refs(workers), truth["person_id"], strict=True))
    valid_id = dict(zip(_refs(workers), workers["id_number"].notna(), strict=True))
    return settings, link_as_of(settings, DAYS[0], KEY), truth, valid_id


def test_the_uncertain_pairs_are_written_with_an_offline_dashboard(linked):
    settings, first, truth, _ = linked
    folder = review.review_root(settings.staging) / f"as_of={DAYS[0].isoformat()}"
    pairs = pd.read_csv(folder / "pairs.csv")
    assert list(pairs.columns) == ["record_a", "record_b", "match_probability", "same_person"]
    assert len(pairs) == first.stats["review_pairs"] > 0
    assert pairs["match_probability"].between(0.5, 0.9, inclusive="left").all()
    assert set(pairs["record_a"]) | set(pairs["record_b"]) <= set(truth)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    html = (folder / "dashboard.html").read_text(encoding="utf-8")
    assert "comparison_vector_data" in html and "match_weight" in html
    # Self-contained: no script, style, font or image is fetched (the embedded scripts
    # still name CDN origins in code the viewer never calls, and XML namespaces).
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""(@import|url\()\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""\bimport\b[^;\n]*["'](https?:)?//""", html)


def test_decisions_join_and_separate_persons_on_the_next_run_and_stay(linked):
    settings, first, truth, valid_id = linked
    person = _person(first)
    pairs = pd.read_csv(review.review_root(settings.staging) /
                        f"as_of={DAYS[0].isoformat()}" / "pairs.csv")
    # A true pair the model kept apart (from the review file), and a pair it merged
    # without a shared valid ID.
    missed = pairs[[truth[a] == truth[b] and not same for a, b, same in
                    zip(pairs["record_a"], pairs["record_b"], pairs["same_person"], strict=True)]]
    x, y = missed.iloc[0][["record_a", "record_b"]]
    assert person[x] != person[y]
    groups = pd.Series(person).groupby(pd.Series(person)).groups
    a, b = next((m[0], m[1]) for m in (sorted(v) for v in groups.values())
                if len(m) == 2 and not (valid_id[m[0]] and valid_id[m[1]]))
    _decide(settings, "day1.csv", [(x, y, "match"), (b, a, "non-match")])

    second = link_as_of(settings, DAYS[1], KEY)
    after = _person(second)
    assert after[x] == after[y] and after[a] != after[b]
    assert second.stats["labels_new"] == 2 and second.stats["labels_unmet"] == 0
    assert second.stats["persons"] == first.stats["persons"]  # one merge, one split
    untouched = [r for r in person if person[r] not in {person[v] for v in (x, y, a, b)}]
    assert all(after[r] == person[r] for r in untouched)
    folder = review.review_root(settings.staging) / review.DECISIONS
    assert not list(folder.glob("*.csv")) and (folder / "applied" / "2021-04-02-day1.csv").is_file()

    # A later decision links both persons again: the earlier labels still hold.
    _decide(settings, "day2.csv", [(x, a, "non-match")])
    third = link_as_of(settings, DAYS[2], KEY)
    later = _person(third)
    assert later[x] == later[y] and later[a] != later[b] and later[x] != later[a]
    assert third.stats["labels"] == 3 and third.stats["labels_new"] == 1


def test_a_bad_decision_names_file_row_and_rule_and_the_band_is_checked(tmp_path):
    (tmp_path / review.DECISIONS).mkdir()
    (tmp_path / review.DECISIONS / "mine.csv").write_text(
        "record_a,record_b,decision\np:workers.csv:1,p:workers.csv:2,maybe\n", encoding="utf-8")
    with pytest.raises(review.DecisionError, match=r"mine\.csv row 2: .*\(review\.decision\)"):
        review.take_decisions(tmp_path, tmp_path / "linkage", DAYS[0])
    assert review.band("") == (0.5, 0.9) and review.band("0.3,0.8") == (0.3, 0.8)
    with pytest.raises(ValueError, match="RETURNSTATS_REVIEW_BAND"):
        review.band("0.5,0.95")
