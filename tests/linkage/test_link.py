import hashlib
import hmac
import json
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from returnstats.config import load_settings
from returnstats.linkage import store
from returnstats.linkage.run import link_as_of, link_records
from returnstats.linkage.store import StateFormatError, read_linked
from returnstats.warehouse.schema import PERSON_RETURNS
from synthetic import generate, id_number, pairwise_quality, stage, staged

KEY = b"test-key"
ID_A = id_number("510104", date(1990, 5, 1), 11, female=False)
ID_B = id_number("510104", date(1990, 5, 1), 12, female=False)


def persons_of(result) -> list[set[str]]:
    groups = result.record_person.groupby("person_key")["record_id"].agg(set)
    return sorted(groups.tolist(), key=sorted)


def test_same_valid_id_is_one_person_even_with_different_details():
    workers = staged([
        {"record_id": "a", "name": "张伟", "id_number": ID_A},
        {"record_id": "b", "name": "张为民", "id_number": ID_A, "phone": None, "role": "receiving",
         "arrival_date": date(2020, 2, 25)},
    ])
    assert persons_of(link_records(workers, KEY)) == [{"a", "b"}]


def test_different_valid_ids_never_merge_even_with_same_name_and_phone():
    workers = staged([
        {"record_id": "a", "name": "张伟", "id_number": ID_A},
        {"record_id": "b", "name": "张伟", "id_number": ID_B},
        {"record_id": "c", "name": "张伟"},  # matches both: joins at most one of them
    ])
    result = link_records(workers, KEY)
    groups = persons_of(result)
    assert len(groups) == 2
    assert not any({"a", "b"} <= group for group in groups)


def test_traditional_name_without_id_merges_with_the_id_record():
    workers = staged([
        {"record_id": "a", "name": "刘国华", "id_number": ID_A},
        {"record_id": "b", "name": "劉國華", "id_number_raw": None, "phone": "+86 138-0013-8000",
         "role": "receiving"},
    ])
    assert persons_of(link_records(workers, KEY)) == [{"a", "b"}]


def test_mistyped_id_within_two_edits_merges_with_the_valid_one():
    mistyped = ID_A[:5] + str((int(ID_A[5]) + 1) % 10) + ID_A[6:]
    workers = staged([
        {"record_id": "a", "name": "王芳", "id_number": ID_A, "sex": "F"},
        {"record_id": "b", "name": "王芳", "id_number_raw": mistyped, "sex": "F", "role": "receiving"},
    ])
    assert persons_of(link_records(workers, KEY)) == [{"a", "b"}]


def test_twins_with_same_phone_county_and_birth_date_but_other_given_names_stay_apart():
    workers = staged([
        {"record_id": "a", "name": "张建国", "id_number": ID_A},
        {"record_id": "b", "name": "张建军"},
        {"record_id": "c", "name": "张建军", "role": "receiving"},
        {"record_id": "d", "name": "张建民", "birth_date": date(1992, 3, 3)},
    ])
    assert persons_of(link_records(workers, KEY)) == [{"a"}, {"b", "c"}, {"d"}]


def test_relatives_sharing_phone_and_county_without_ids_stay_apart():
    workers = staged([
        {"record_id": "a", "name": "李秀英", "birth_date": date(1970, 1, 2), "sex": "F"},
        {"record_id": "b", "name": "李明", "birth_date": date(1995, 6, 7)},
        {"record_id": "c", "name": "李明", "birth_date": date(1995, 6, 7), "role": "receiving"},
    ])
    assert persons_of(link_records(workers, KEY)) == [{"a"}, {"b", "c"}]


def test_survivorship_takes_mode_from_sender_and_destination_from_receiver():
    workers = staged([
        {"record_id": "r", "name": "赵敏", "id_number": ID_A, "role": "receiving", "province": "44",
         "mode": "chartered_bus", "destination_province": "44", "employer_uscc": "91440300MA5EXAMPLE",
         "arrival_date": date(2020, 2, 20), "report_date": date(2020, 2, 20)},
        {"record_id": "s", "name": "赵敏", "id_number": ID_A, "role": "sending", "province": "51",
         "mode": "special_train", "destination_province": "33", "origin_county": "510104",
         "arrival_date": date(2020, 2, 21), "report_date": date(2020, 2, 22)},
    ])
    persons = link_records(workers, KEY).persons
    assert len(persons) == 1
    person = persons.iloc[0]
    assert person["mode"] == "special_train"
    assert person["origin_county"] == "510104" and person["origin_province"] == "51"
    assert person["destination_province"] == "44"
    assert person["employer_uscc"] == "91440300MA5EXAMPLE"
    assert person["return_date"] == date(2020, 2, 20)
    assert person["n_records"] == 2
    assert list(person["source_records"]) == ["44/20200220/v1/r", "51/20200222/v1/s"]
    assert list(persons.columns) == PERSON_RETURNS.column_names


def test_person_key_is_stable_across_reruns_and_depends_on_the_key():
    workers, _ = generate(300, seed=1)
    first, again = link_records(workers, KEY), link_records(workers, KEY)
    pd.testing.assert_frame_equal(first.persons, again.persons)
    pd.testing.assert_frame_equal(first.record_person, again.record_person)
    other = link_records(workers, b"another-key")
    assert set(first.persons["person_key"]).isdisjoint(other.persons["person_key"])
    shuffled = link_records(workers.sample(frac=1, random_state=3), KEY)
    pd.testing.assert_frame_equal(first.persons, shuffled.persons)


def test_person_key_is_the_hmac_of_the_id_or_of_the_founding_record():
    workers = staged([
        {"record_id": "a", "name": "赵敏", "id_number": ID_A},
        {"record_id": "b", "name": "钱多多", "origin_county": "510105", "phone": None,
         "report_date": date(2020, 2, 21)},
    ])
    keys = set(link_records(workers, KEY).persons["person_key"])
    expected = {
        hmac.new(KEY, f"id:{ID_A}".encode(), hashlib.sha256).hexdigest(),
        hmac.new(KEY, b"record:51/20200221/b", hashlib.sha256).hexdigest(),
    }
    assert keys == expected


def test_merged_flags_mark_every_record_but_the_founding_one():
    workers = staged([
        {"record_id": "late", "name": "孙丽", "id_number": ID_A, "report_date": date(2020, 2, 23),
         "arrival_date": date(2020, 2, 20)},
        {"record_id": "early", "name": "孙丽", "id_number": ID_A, "report_date": date(2020, 2, 20)},
        {"record_id": "alone", "name": "周杰", "id_number": ID_B, "report_date": date(2020, 2, 21)},
    ])
    flags = link_records(workers, KEY).record_person.set_index("record_id")["merged"]
    assert flags.to_dict() == {"early": False, "late": True, "alone": False}


def test_outputs_hold_no_names_ids_or_phones():
    workers = staged([{"record_id": "a", "name": "赵敏", "id_number": ID_A},
                      {"record_id": "b", "name": "赵敏"}])
    result = link_records(workers, KEY)
    text = result.persons.to_string() + result.record_person.to_string() + str(result.stats)
    for secret in ("赵敏", ID_A, "13800138000"):
        assert secret not in text


def test_link_as_of_writes_a_delta_and_a_chain_and_a_rerun_rewrites_neither(monkeypatch, tmp_path):
    workers, _ = generate(200, seed=2)
    monkeypatch.setenv("RETURNSTATS_DATA", str(tmp_path))
    settings = load_settings()
    stage(settings, workers)
    as_of = date(2020, 3, 31)
    results = [link_as_of(settings, as_of, KEY) for _ in range(2)]
    root = tmp_path / "staging" / "linkage"
    assert sorted(p.name for p in root.iterdir()) == ["as_of=2020-03-31", "deltas"]
    assert [p.name for p in (root / "as_of=2020-03-31").iterdir()] == ["chain.json"]
    (delta,) = (root / "deltas").iterdir()
    assert sorted(p.name for p in delta.iterdir()) == [
        "dropped.parquet", "merged.parquet", "persons.parquet", "records.arrow"]
    persons, record_person = read_linked(root / "as_of=2020-03-31")
    assert persons.schema.equals(PERSON_RETURNS.schema)
    assert persons.num_rows == len(results[1].persons) == results[1].stats["persons"]
    assert record_person.column_names == ["package", "file", "row_number", "record_id",
                                          "person_key", "merged"]
    assert record_person.num_rows == len(workers) == results[1].stats["records"]
    assert results[0].record_person.equals(results[1].record_person)


def test_a_state_written_in_an_earlier_format_is_refused_with_what_to_do(monkeypatch, tmp_path):
    workers, _ = generate(50, seed=3)
    monkeypatch.setenv("RETURNSTATS_DATA", str(tmp_path))
    settings = load_settings()
    stage(settings, workers)
    link_as_of(settings, date(2020, 3, 31), KEY)
    root = tmp_path / "staging" / "linkage"
    (records,) = root.glob("deltas/*/records.arrow")
    # Format 2: the records as Parquet, with the key hashes and nothing else stored.
    stored = pa.ipc.open_file(pa.memory_map(str(records))).read_all()
    pq.write_table(stored.drop_columns(["name_key", "person_first", "person_rows"]),
                   records.with_suffix(".parquet"))
    records.unlink()
    with pytest.raises(StateFormatError, match=r"delete .*linkage and rerun the campaign"):
        read_linked(root / "as_of=2020-03-31")
    with pytest.raises(StateFormatError):
        link_as_of(settings, date(2020, 4, 1), KEY)


def test_quality_on_synthetic_persons():
    workers, truth = generate(3000, seed=5)
    precision, recall = pairwise_quality(link_records(workers, KEY).record_person, workers, truth)
    assert precision >= 0.99
    assert recall >= 0.98


def test_empty_input_gives_empty_outputs():
    workers = staged([{"record_id": "a", "name": "x"}]).iloc[0:0]
    result = link_records(workers, KEY)
    assert result.persons.empty and result.record_person.empty


def test_quality_on_a_generated_sample_against_its_truth(tmp_path):
    """The independent sample generator's truth, read through the pipeline's own rooms."""
    sample_module = pytest.importorskip("returnstats.sample")
    pytest.importorskip("returnstats.validation.ingest")
    from returnstats.linkage.train import _read_sample

    sample_module.generate(tmp_path / "sample", date(2020, 2, 17), 3, 1000, 7, None)
    workers, person_ids = _read_sample(tmp_path / "sample")
    result = link_records(workers, KEY)
    precision, recall = pairwise_quality(result.record_person, workers, person_ids)
    assert precision >= 0.99
    assert recall >= 0.98


def test_a_state_written_by_a_duckdb_with_another_hash_is_refused(monkeypatch, tmp_path):
    """The state stores DuckDB hash() values: a DuckDB that hashes otherwise would find
    none of the known records, so the chain's probe must match this DuckDB's."""
    workers, _ = generate(50, seed=4)
    monkeypatch.setenv("RETURNSTATS_DATA", str(tmp_path))
    settings = load_settings()
    stage(settings, workers)
    link_as_of(settings, date(2020, 3, 31), KEY)
    chain_file = tmp_path / "staging" / "linkage" / "as_of=2020-03-31" / "chain.json"
    payload = json.loads(chain_file.read_text())
    assert payload["hash_probe"] == store.hash_probe()
    read_linked(chain_file.parent)  # the probe matches: readable
    payload["hash_probe"] += 1  # as a DuckDB whose hash() changed would have written it
    chain_file.write_text(json.dumps(payload))
    with pytest.raises(StateFormatError, match=r"hash\(\) differs .*rerun the campaign"):
        read_linked(chain_file.parent)
    with pytest.raises(StateFormatError, match=r"hash\(\) differs"):
        link_as_of(settings, date(2020, 4, 1), KEY)
