"""Linkage on data it was never trained on (issue 20): the independent generator's records,
linked with the shipped model, against the generator's own truth."""

from datetime import date

import pyarrow as pa
import pytest
from independent_generator import generate, id_with_check
from out_of_sample import measure, quality
from returnstats.linkage import normalise
from returnstats.linkage.run import link_records
from synthetic import staged

KEY = b"test-key"


@pytest.fixture(scope="module")
def thirty_percent_missing():
    return measure(8000, missing_id=0.3, mangle=0.5, seed=2024, key=KEY)


def test_precision_and_recall_at_a_30_percent_missing_id_share(thirty_percent_missing):
    q = thirty_percent_missing
    assert q.true_pairs > 4000
    assert q.precision >= 0.999
    assert q.recall >= 0.995


def test_pairs_with_a_spreadsheet_mangled_id_are_found(thirty_percent_missing):
    q = thirty_percent_missing
    assert q.mangled_pairs > 400
    assert q.mangled_recall >= 0.99


def test_every_spreadsheet_id_mangled_and_60_percent_missing_keeps_precision():
    workers, truth = generate(3000, missing_id=0.6, mangle=1.0, seed=7)
    q = quality(link_records(workers, KEY).record_person, workers, truth)
    assert q.precision >= 0.999
    assert q.mangled_recall >= 0.98


ID = id_with_check("45052119900101123")


@pytest.mark.parametrize("damaged", [
    f"{float(ID):.5E}",  # 4.50521E+17
    ID[:15] + "000",  # Excel kept 15 digits
    ID[:16],  # truncated
    ID[:17] + ("0" if ID[17] != "0" else "1"),  # wrong check digit
])
def test_a_damaged_id_is_missing_evidence_not_evidence_against(damaged):
    """The issue's case: name, phone (written "+86 …"), county, employer and arrival
    agree; the ID was mangled by a spreadsheet."""
    workers = staged([
        {"record_id": "a", "name": "黄小梅", "id_number": ID, "origin_county": "450521",
         "phone": "13977112345", "birth_date": None},
        {"record_id": "b", "name": "黄小梅", "id_number_raw": damaged, "origin_county": "450521",
         "phone": "13977112345", "birth_date": None, "role": "receiving",
         "province": "44", "report_date": date(2020, 2, 21)},
    ])
    groups = link_records(workers, KEY).record_person.groupby("person_key")["record_id"].agg(set)
    assert groups.tolist() == [{"a", "b"}]


def test_what_survives_of_a_damaged_id():
    ids = normalise.normalise_id_numbers(pa.array(
        ["4.50511E+17", "450511199001011000", "45051119900101", ID, "4.5E+17", "12345"]))
    assert normalise.intact_id_numbers(ids).to_pylist() == [None, None, None, ID, None, None]
    assert normalise.surviving_id_prefix(ids).to_pylist() == [
        "450511", "450511199001011", "45051119900101", None, None, None]
    assert normalise.id_birth_dates(normalise.id_lead(ids)).to_pylist() == [
        None, "1990-01-01", "1990-01-01", "1990-01-01", None, None]
