"""Linkage benchmark: quality against the sample generator's truth (in sample: the model
was trained on that generator's records) and against the independent generator's (out
of sample), the speed of one
incremental link of new records against a large known state, and the growth of a day's
run time over a campaign.

    python -m returnstats.bench.linkage [--quick] [--only quality,oos,speed,growth]

Prints one line per measure, `linkage.<measure> <value> <unit>` (units: ratio, s, records,
persons). --quick uses small sizes (a smoke run).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

KEY = b"bench-key"
START = date(2020, 2, 17)
SURNAMES = list("张王李刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list("伟华军国丽红东刚龙凤杰涛鹏辉强云芳娜敏静秀英玉兰霞平明建文海波春燕勇峰磊超浩宇晨阳亮飞鑫琳婷雪梅林桂珍斌俊志新")
TRADITIONAL = {"华": "華", "军": "軍", "国": "國", "丽": "麗", "红": "紅", "东": "東", "刚": "剛",
               "龙": "龍", "凤": "鳳", "杰": "傑", "涛": "濤", "鹏": "鵬", "辉": "輝", "强": "強",
               "云": "雲", "静": "靜", "兰": "蘭", "霞": "霞", "明": "明", "建": "建", "张": "張",
               "刘": "劉", "陈": "陳", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳", "马": "馬"}
HOMOPHONES = {"伟": "玮", "丽": "莉", "军": "君", "华": "化", "静": "晶", "敏": "民", "杰": "洁",
              "涛": "韬", "峰": "锋", "婷": "庭", "燕": "艳", "明": "铭", "亮": "靓", "超": "潮"}
ORIGINS = np.array(["51", "50", "43", "42", "41", "36", "34", "52", "45", "61"])
DESTINATIONS = np.array(["44", "33", "32", "31", "11", "35", "12", "37"])
MODES = np.array(["special_train", "chartered_bus", "train_carriage", "charter_flight"])
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


def _ids(county: np.ndarray, birth: np.ndarray, serial: np.ndarray) -> np.ndarray:
    body = np.char.add(np.char.add(county.astype("U6"), pd.to_datetime(birth).strftime(
        "%Y%m%d").to_numpy().astype("U8")), np.char.zfill(serial.astype("U3"), 3))
    digits = body.view("U1").reshape(len(body), 17).astype(np.int64)
    return np.char.add(body, _CHECK[(digits * _WEIGHTS).sum(axis=1) % 11])


def synthetic_workers(n_persons: int, seed: int, first_day: date = START, days: int = 20,
                      first_person: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Vectorised form of tests/linkage/synthetic.py: (staged workers, person per row).
    Households share surname, county and phone; 30% of IDs missing, 4% mistyped,
    traditional and homophone names, reformatted phones."""
    rng = np.random.default_rng(seed)
    n = n_persons
    county = np.char.add(np.char.add(rng.choice(ORIGINS, n),
                                      np.char.zfill(rng.integers(1, 15, n).astype("U2"), 2)),
                         rng.integers(21, 30, n).astype("U2"))
    household = np.repeat(np.arange(n), rng.choice([1, 2, 3, 4], n, p=[.55, .25, .12, .08]))[:n]
    county = county[household]
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)][household]
    given = np.char.add(np.array(GIVEN)[rng.integers(0, len(GIVEN), n)],
                        np.where(rng.random(n) < .6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], ""))
    name = np.char.add(surname, given)
    birth = np.datetime64("1965-01-01") + rng.integers(0, 14000, n).astype("timedelta64[D]")
    person = np.arange(first_person, first_person + n)
    ids = _ids(county, birth, person % 1000)
    phone = np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n).astype("U9"), 9))[household]
    destination = rng.choice(DESTINATIONS, n)
    arrival = np.datetime64(first_day) + rng.integers(0, days, n).astype("timedelta64[D]")
    female = rng.random(n) < .4
    # Records: sending and/or receiving province.
    sides = rng.choice(3, n, p=[.25, .25, .5])
    rec_person = np.concatenate([np.flatnonzero(sides != 1), np.flatnonzero(sides != 0)])
    role = np.concatenate([np.full((sides != 1).sum(), "sending"),
                           np.full((sides != 0).sum(), "receiving")])
    m = len(rec_person)
    names = name[rec_person].astype(object)
    luck = rng.random(m)
    trad = luck < .08
    names[trad] = [''.join(TRADITIONAL.get(c, c) for c in v) for v in names[trad]]
    homo = (luck >= .08) & (luck < .12)
    names[homo] = [v[:-1] + HOMOPHONES.get(v[-1], v[-1]) for v in names[homo]]
    id_luck = rng.random(m)
    raw = ids[rec_person].astype(object)
    raw[id_luck < .3] = None
    mistyped = (id_luck >= .3) & (id_luck < .34)
    raw[mistyped] = [v[:5] + str((int(v[5]) + 1) % 10) + v[6:] for v in raw[mistyped]]
    valid = np.where((id_luck >= .34), raw, None)
    ph = phone[rec_person].astype(object)
    fmt = rng.random(m)
    ph[fmt < .15] = None
    spaced = (fmt >= .15) & (fmt < .3)
    ph[spaced] = ["+86 " + v for v in ph[spaced]]
    arr = arrival[rec_person] + np.where(role == "receiving", rng.integers(0, 2, m), 0
                                         ).astype("timedelta64[D]")
    province = np.where(role == "sending", np.char.ljust(county[rec_person].astype("U2"), 2),
                        destination[rec_person])
    frame = pd.DataFrame({
        "province": province, "report_date": pd.to_datetime(arr).date, "version": 1,
        "file": "workers.csv", "name": names, "id_number": valid, "id_number_raw": raw,
        "sex": np.where(female[rec_person], "F", "M"),
        "birth_date": pd.to_datetime(np.where(rng.random(m) < .85, birth[rec_person],
                                              np.datetime64("NaT"))).date,
        "phone": ph, "origin_county": county[rec_person],
        "destination_province": destination[rec_person],
        "employer_uscc": None, "mode": rng.choice(MODES, m),
        "arrival_date": pd.to_datetime(arr).date, "role": role,
    })
    frame["package"] = frame["province"] + "_" + pd.to_datetime(frame["report_date"]).dt.strftime(
        "%Y%m%d") + f"_s{seed}_v1"
    order = np.argsort(frame["package"].to_numpy(), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    frame["row_number"] = frame.groupby("package").cumcount().astype("int64") + 1
    frame["record_id"] = "R" + frame["row_number"].astype(str)
    return frame, person[rec_person][order]


def known_state(workers: pd.DataFrame, person: np.ndarray):
    """A linked state built from the generator's persons (as if linked perfectly)."""
    from returnstats.linkage import state as linkage_state
    from returnstats.warehouse.schema import PERSON_RETURNS

    rows = linkage_state.new_state_rows(workers)
    # new_state_rows sorts by founding order; the same stable sort orders the truth.
    keys_in_order = linkage_state.worker_table(workers).select(linkage_state.FOUNDING_ORDER)
    person = person[pc.sort_indices(keys_in_order, [(c, "ascending") for c in
                                                   linkage_state.FOUNDING_ORDER]).to_numpy()]
    _, first_at, which = np.unique(person, return_index=True, return_inverse=True)
    first = np.zeros(len(person), dtype=bool)
    first[first_at] = True
    n_records = np.bincount(which)[which[first]]
    keys = pa.array([hashlib.sha256(KEY + str(p).encode()).hexdigest() for p in person], pa.string())
    rows = rows.set_column(rows.schema.get_field_index("person_key"), "person_key", keys)
    rows = rows.set_column(rows.schema.get_field_index("merged"), "merged", pa.array(~first))
    founders = rows.filter(pa.array(first))
    persons = pa.table({
        "person_key": founders["person_key"], "return_date": founders["arrival_date"],
        "mode": founders["mode"], "origin_province": pc.utf8_slice_codeunits(founders["origin_county"], 0, 2),
        "origin_county": founders["origin_county"],
        "destination_province": founders["destination_province"],
        "employer_uscc": founders["employer_uscc"],
        "n_records": pa.array(n_records, pa.int64()),
        "source_records": pa.array([[]] * founders.num_rows, pa.list_(pa.string())),
    })
    return rows, persons.cast(PERSON_RETURNS.schema)


def bench_speed(known_persons: int, new_records: int, chunk_persons: int = 500_000
                ) -> dict[str, tuple[float, str]]:
    """One link of `new_records` new records against a state of `known_persons` persons,
    generated and normalised chunk by chunk straight into Arrow (a whole 5M-person pandas
    frame does not fit) and stored as the chain of an earlier run."""
    from returnstats.linkage import run, store
    from returnstats.linkage.state import new_state_rows, worker_table

    records, persons = [], []
    for first in range(0, known_persons, chunk_persons):
        size = min(chunk_persons, known_persons - first)
        known, person = synthetic_workers(size, seed=1 + first, first_person=first)
        chunk_records, chunk_persons_table = known_state(known, person)
        del known
        records.append(chunk_records)
        persons.append(chunk_persons_table)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        chain = store.write_snapshot(root / "as_of=known", pa.concat_tables(records),
                                     pa.concat_tables(persons))
        del records, persons
        new, _ = synthetic_workers(int(new_records / 1.5), seed=2,
                                   first_day=START + timedelta(20), first_person=known_persons)
        # Linkage reads staged Arrow tables in the DAG: the frame is converted untimed.
        new = worker_table(new)
        began = time.perf_counter()
        result = run.link_step(root, chain, root / "as_of=new", new_state_rows(new), KEY)
        seconds = time.perf_counter() - began
    return {"speed_known_persons": (chain.persons, "persons"),
            "speed_known_records": (chain.records, "records"),
            "speed_new_records": (new.num_rows, "records"),
            "speed_seconds": (seconds, "s"),
            "speed_known_records_compared": (result.stats["known_records_compared"], "records"),
            "speed_persons_after": (result.stats["persons"], "persons")}


def bench_growth(days: int, per_day: int) -> dict[str, tuple[float, str]]:
    """One link a day at equal volume, each from the previous day's chain on disk, as
    `link_as_of` runs; then day 1 and day `days` timed `GROWTH_REPEATS` times each, taking
    turns (`bench.day.alternating_medians`), day 1 on a copy of the state as it stood
    after day 1."""
    from returnstats.bench.day import GROWTH_REPEATS, alternating_medians, timed_run
    from returnstats.linkage import run, store
    from returnstats.linkage.state import new_state_rows, worker_table

    if days < 2:
        raise ValueError("growth compares the last day with the first: at least two days")
    with tempfile.TemporaryDirectory() as scratch:
        root, first_root, chain = Path(scratch) / "state", Path(scratch) / "day1", store.Chain()
        steps = {}
        for day in range(days):
            frame, _ = synthetic_workers(int(per_day / 1.5), seed=100 + day,
                                         first_day=START + timedelta(day), days=1,
                                         first_person=day * per_day)
            workers = worker_table(frame)  # staged Arrow, as the DAG's linkage reads
            if day == 0:  # the first imports (Splink, DuckDB) are not the day's work
                run.link_step(root / "warm", store.Chain(), root / "warm" / "as_of=0",
                              new_state_rows(workers), KEY)
            target = root / f"as_of={day:02d}"
            run.link_step(root, chain, target, new_state_rows(workers), KEY)
            if day == 0:
                shutil.copytree(root, first_root)
                steps["day1"] = (first_root, chain, first_root / target.name, workers)
            if day == days - 1:
                steps[f"day{days}"] = (root, chain, target, workers)
            chain = store.read_chain(target)

        def step(state: Path, previous: store.Chain, target: Path, workers: Any) -> Any:
            # A rerun must write its delta again, as the first run did.
            def forget() -> None:
                shutil.rmtree(store.delta_dir(state, store.read_chain(target).deltas[-1]))
            return timed_run(lambda _: run.link_step(state, previous, target,
                                                     new_state_rows(workers), KEY), forget)

        measured = alternating_medians({name: step(*args) for name, args in steps.items()},
                                       GROWTH_REPEATS)
    first, last = measured["day1"][0], measured[f"day{days}"][0]
    return {"growth_day1_seconds": (first, "s"), f"growth_day{days}_seconds": (last, "s"),
            "growth_ratio": (last / first, "ratio"),
            "growth_records_per_day": (per_day, "records")}


def bench_quality(days: int, persons_per_day: int) -> dict[str, tuple[float, str]]:
    """The sample generator's packages, delivered and ingested day by day through the
    pipeline's own rooms, linked incrementally with `link_as_of`, scored against truth."""
    from returnstats.config import load_settings
    from returnstats.linkage.run import link_as_of
    from returnstats.reference import provinces
    from returnstats.sample import deliver, generate
    from returnstats.validation.ingest import ingest_province

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        generate(root / "sample", start=START, days=days, persons_per_day=persons_per_day, seed=7)
        settings = replace(load_settings(), landing=root / "landing", warehouse=root / "warehouse",
                           output=root / "output", staging=root / "staging")
        settings.ensure_dirs()
        link_seconds = 0.0
        for day in range(days):
            as_of = START + timedelta(day)
            deliver(root / "sample", settings.landing, as_of)
            for province in provinces():
                ingest_province(settings, province, as_of)
            began = time.perf_counter()
            result = link_as_of(settings, as_of, KEY)
            link_seconds += time.perf_counter() - began
        truth = pd.read_csv(root / "sample" / "truth" / "records.csv", dtype=str)
        record_person = result.record_person  # read while the linkage files exist
    truth["row_number"] = truth["row_number"].astype("int64")
    linked = record_person.merge(truth, on=["package", "file", "row_number"], how="left")
    precision, recall = pairwise(linked["person_key"], linked["person_id"])
    true_sets = linked.groupby("person_id")["person_key"].agg(lambda k: (k.nunique(), len(k)))
    key_sizes = linked.groupby("person_key").size()
    exact = sum(n == 1 and key_sizes[k] == size for (n, size), k in
                zip(true_sets, linked.groupby("person_id")["person_key"].first()))
    return {"quality_records": (len(linked), "records"),
            "quality_precision": (precision, "ratio"), "quality_recall": (recall, "ratio"),
            "quality_persons_exact": (exact / len(true_sets), "ratio"),
            "quality_link_seconds": (link_seconds, "s")}


def bench_out_of_sample(persons: int, missing_id: float = 0.3) -> dict[str, tuple[float, str]]:
    """Quality on data the model never saw: the independent generator of the tests
    (tests/linkage/independent_generator.py, no code shared with returnstats.sample),
    30% of IDs missing, half of the spreadsheet provinces' IDs mangled, linked from
    scratch with the shipped model."""
    import sys

    tests = Path(__file__).resolve().parents[3] / "tests" / "linkage"
    if not (tests / "independent_generator.py").is_file():
        raise SystemExit(f"out-of-sample bench needs the repository's tests: {tests}")
    sys.path.insert(0, str(tests))
    import out_of_sample

    began = time.perf_counter()
    q = out_of_sample.measure(persons, missing_id=missing_id, mangle=0.5, seed=2026, key=KEY)
    return {"oos_records": (q.records, "records"),
            "oos_precision": (q.precision, "ratio"), "oos_recall": (q.recall, "ratio"),
            "oos_mangled_id_recall": (q.mangled_recall, "ratio"),
            "oos_seconds": (time.perf_counter() - began, "s")}


def pairwise(predicted: pd.Series, actual: pd.Series) -> tuple[float, float]:
    """Pairwise precision and recall, counted per (predicted, actual) cell."""
    cells = pd.DataFrame({"p": predicted.to_numpy(), "a": actual.to_numpy()})

    def pairs(sizes: pd.Series) -> float:
        return float((sizes * (sizes - 1) / 2).sum())

    both = pairs(cells.groupby(["p", "a"]).size())
    found, true = pairs(cells.groupby("p").size()), pairs(cells.groupby("a").size())
    return (both / found if found else 1.0), (both / true if true else 1.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m returnstats.bench.linkage")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default="quality,oos,speed,growth")
    args = parser.parse_args(argv)
    import logging
    logging.getLogger("returnstats").setLevel(logging.WARNING)
    chosen = set(args.only.split(","))
    sizes = ({"quality": (3, 1500), "oos": (3000,), "speed": (20_000, 5_000),
              "growth": (5, 3_000)} if args.quick
             else {"quality": (5, 25_000), "oos": (50_000,), "speed": (5_000_000, 1_000_000),
                   "growth": (30, 50_000)})
    for name, function in (("quality", bench_quality), ("oos", bench_out_of_sample),
                           ("speed", bench_speed), ("growth", bench_growth)):
        if name in chosen:
            for measure, (value, unit) in function(*sizes[name]).items():
                text = f"{value:.4f}" if isinstance(value, float) else str(value)
                print(f"linkage.{measure} {text} {unit}", flush=True)


if __name__ == "__main__":
    main()
