"""Incremental linkage across days (docs/linkage.md, "Incremental state")."""

from datetime import date, timedelta

import pandas as pd
import pytest
from returnstats.config import load_settings
from returnstats.linkage.run import link_as_of, link_records, linkage_dir
from synthetic import generate, id_number, pairwise_quality, stage, staged

KEY = b"test-key"
ID_A = id_number("510104", date(1990, 5, 1), 11, female=False)


@pytest.fixture
def settings(monkeypatch, tmp_path):
    monkeypatch.setenv("RETURNSTATS_DATA", str(tmp_path))
    return load_settings()


def _pairs(record_person: pd.DataFrame) -> set[tuple[str, str]]:
    keyed = record_person.assign(lineage=record_person["package"] + "#" +
                                 record_person["row_number"].astype(str))
    found: set[tuple[str, str]] = set()
    for members in keyed.groupby("person_key")["lineage"].agg(sorted):
        found.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
    return found


def test_incremental_days_match_a_full_link_with_a_resubmission_and_a_late_package(settings):
    workers, truth = generate(2500, seed=11)
    workers["report_date"] = pd.to_datetime(workers["report_date"]).dt.date
    days = sorted(workers["report_date"].unique())[:8]
    late = workers[workers["report_date"] == days[1]]["package"].iloc[0]
    resubmitted = workers[workers["report_date"] == days[0]]["package"].iloc[-1]
    for as_of in days:
        due = workers[(workers["report_date"] == as_of) & (workers["package"] != late)]
        if as_of == days[4]:  # the late package arrives three days after its report date
            due = pd.concat([due, workers[workers["package"] == late]])
        if as_of == days[2]:  # v2 of a day-0 package: same rows, one arrival corrected
            v2 = workers[workers["package"] == resubmitted].copy()
            v2["version"] = 2
            v2["package"] = resubmitted[:-1] + "2"
            v2.loc[v2.index[0], "arrival_date"] -= timedelta(days=1)
            stage(settings, v2)
            workers = pd.concat([workers[workers["package"] != resubmitted], v2])
        stage(settings, due)
        result = link_as_of(settings, as_of, KEY)
        assert result.stats["incremental"] == (as_of != days[0])
    final = days[-1]
    active = workers[workers["report_date"] <= final]
    full = link_records(active, KEY)
    incremental = result.record_person
    assert len(incremental) == len(active)
    assert resubmitted not in set(incremental["package"])
    a, b = _pairs(incremental), _pairs(full.record_person)
    # Edges accepted on earlier days are never revisited when a better one arrives later,
    # so the partitions may differ by a few pairs: allow 0.5% of them.
    assert len(a ^ b) <= 0.005 * max(len(a | b), 1)
    same = incremental.merge(full.record_person, on=["package", "file", "row_number"])
    assert (same["person_key_x"] == same["person_key_y"]).mean() >= 0.99
    truth_of = truth.loc[active.index]
    precision, recall = pairwise_quality(incremental, active, truth_of)
    assert precision >= 0.99 and recall >= 0.98


def test_rerunning_a_day_gives_identical_files(settings):
    workers, _ = generate(600, seed=3)
    workers["report_date"] = pd.to_datetime(workers["report_date"]).dt.date
    days = sorted(workers["report_date"].unique())[:3]
    for as_of in days:
        stage(settings, workers[workers["report_date"] == as_of])
        link_as_of(settings, as_of, KEY)
    root = linkage_dir(settings, days[-1]).parent

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file()}

    before = files()
    link_as_of(settings, days[-1], KEY)
    assert files() == before


def test_superseded_package_records_vanish_and_lonely_persons_disappear(settings):
    v1 = staged([
        {"record_id": "a", "name": "赵敏", "id_number": ID_A, "report_date": date(2020, 2, 20)},
        {"record_id": "b", "name": "钱多多", "origin_county": "510105", "phone": None,
         "report_date": date(2020, 2, 20)},
    ])
    stage(settings, v1)
    first = link_as_of(settings, date(2020, 2, 20), KEY)
    assert len(first.persons) == 2
    v2 = v1.iloc[[0]].assign(version=2, package=v1["package"].iloc[0][:-1] + "2")
    stage(settings, v2)
    second = link_as_of(settings, date(2020, 2, 21), KEY)
    assert set(second.record_person["package"]) == {v2["package"].iloc[0]}
    assert len(second.persons) == 1
    # The corrected package keeps the person key of its record (anchored on the ID).
    assert second.persons["person_key"].iloc[0] in set(first.persons["person_key"])
    # A later record like the dropped one: the dropped record's old version, still in the
    # first delta, must not come back as a known record.
    stage(settings, staged([{"record_id": "c", "name": "钱多多", "origin_county": "510105",
                             "phone": None, "report_date": date(2020, 2, 22)}]))
    third = link_as_of(settings, date(2020, 2, 22), KEY)
    assert third.stats["known_records_compared"] == 0
    assert third.persons["n_records"].tolist() == [1, 1]
    assert not third.record_person["merged"].any()


def test_a_late_record_moves_return_date_earlier(settings):
    stage(settings, staged([{"record_id": "s", "name": "孙丽", "id_number": ID_A,
                             "arrival_date": date(2020, 2, 22), "report_date": date(2020, 2, 22)}]))
    first = link_as_of(settings, date(2020, 2, 22), KEY)
    assert first.persons["return_date"].tolist() == [date(2020, 2, 22)]
    stage(settings, staged([{"record_id": "r", "name": "孙丽", "role": "receiving",
                             "province": "44", "arrival_date": date(2020, 2, 20),
                             "report_date": date(2020, 2, 21)}]))
    second = link_as_of(settings, date(2020, 2, 23), KEY)
    assert second.stats["records_new"] == 1
    assert second.persons["return_date"].tolist() == [date(2020, 2, 20)]
    assert second.persons["n_records"].tolist() == [2]
    assert second.persons["person_key"].tolist() == first.persons["person_key"].tolist()
    flags = second.record_person.set_index("record_id")["merged"].to_dict()
    assert flags == {"r": False, "s": True}  # the late record now founds the person


def _groups(result) -> list[set[str]]:
    return sorted(result.record_person.groupby("person_key")["record_id"].agg(set).tolist(),
                  key=sorted)


def test_a_person_splits_when_the_record_bridging_it_is_superseded(settings):
    """a and x share a valid ID; c (no ID) matches x (name, phone) but not a (another
    given name as written). When a corrected package drops x, a and c are two persons,
    as a full link of what remains says."""
    day1, day2, day3 = date(2020, 2, 20), date(2020, 2, 21), date(2020, 2, 22)
    stage(settings, staged([
        {"record_id": "a", "name": "王小芳", "id_number": ID_A, "phone": "13800000001",
         "report_date": day1},
        {"record_id": "x", "name": "王芳", "id_number": ID_A, "phone": "13900000002",
         "role": "receiving", "province": "44", "report_date": day1},
    ]))
    link_as_of(settings, day1, KEY)
    stage(settings, staged([{"record_id": "c", "name": "王芳", "phone": "13900000002",
                             "role": "receiving", "province": "44", "report_date": day2}]))
    bridged = link_as_of(settings, day2, KEY)
    assert _groups(bridged) == [{"a", "c", "x"}]
    corrected = staged([{"record_id": "y", "name": "钱多多", "origin_county": "510105",
                         "phone": None, "role": "receiving", "province": "44", "version": 2,
                         "report_date": day1}])
    stage(settings, corrected)
    split = link_as_of(settings, day3, KEY)
    assert _groups(split) == [{"a"}, {"c"}, {"y"}]
    remaining = pd.concat([staged([
        {"record_id": "a", "name": "王小芳", "id_number": ID_A, "phone": "13800000001",
         "report_date": day1}]),
        staged([{"record_id": "c", "name": "王芳", "phone": "13900000002", "role": "receiving",
                 "province": "44", "report_date": day2}]), corrected])
    assert _groups(link_records(remaining, KEY)) == _groups(split)
    # The person keeps its key where its anchor (the ID) stays; c founds a person of its own.
    assert split.persons["person_key"].isin(bridged.persons["person_key"]).sum() == 1
