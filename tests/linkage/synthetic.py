"""A synthetic staged-workers frame with known persons, for linkage tests and the benchmark.

Persons come in households (shared surname, county and phone; some twins sharing the birth
date too); each person is reported by the sending and/or the receiving province, with IDs
missing or mistyped, traditional or homophone names and reformatted phones.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd
from opencc import OpenCC
from returnstats.linkage.normalise import _ID_CHECK, _ID_WEIGHTS

SURNAMES = "张王李刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟华军国丽红东刚龙凤杰涛鹏辉强云芳娜敏静秀英玉兰霞平明建文海波春燕勇峰磊超浩宇晨阳亮飞鑫琳婷雪梅林桂珍斌俊志新"
HOMOPHONES = {"伟": "玮", "丽": "莉", "军": "君", "华": "化", "静": "晶", "敏": "民", "杰": "洁",
              "涛": "韬", "峰": "锋", "婷": "庭", "燕": "艳", "明": "铭", "亮": "靓", "超": "潮"}
ORIGINS = ("51", "50", "43", "42", "41", "36", "34", "52", "45", "61")
DESTINATIONS = ("44", "33", "32", "31", "11", "35", "12", "37")
MODES = ("special_train", "chartered_bus", "train_carriage", "charter_flight")
START = date(2020, 2, 17)

_S2T = OpenCC("s2t")  # used per character: a name is written character by character


def id_number(county: str, birth: date, serial: int, female: bool) -> str:
    serial = serial % 500 * 2 + (0 if female else 1)
    body = f"{county}{birth:%Y%m%d}{serial:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def _mistype(text: str, rng: random.Random) -> str:
    position = rng.randrange(len(text) - 1)
    digit = str((int(text[position]) + rng.randrange(1, 9)) % 10)
    return text[:position] + digit + text[position + 1:]


def _phone_as_given(phone: str, rng: random.Random) -> str:
    return rng.choice([phone, f"+86 {phone}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}",
                       f"86{phone}", f"{phone[:3]} {phone[3:7]} {phone[7:]}"])


def generate(n_persons: int, seed: int = 7, *, p_missing_id: float = 0.3
             ) -> tuple[pd.DataFrame, pd.Series]:
    """(staged workers, person id per row)."""
    rng = random.Random(seed)
    people: list[dict] = []
    while len(people) < n_persons:
        county = rng.choice(ORIGINS) + f"{rng.randrange(1, 15):02d}{rng.randrange(21, 30):02d}"
        surname = rng.choice(SURNAMES)
        phone = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
        destination = rng.choice(DESTINATIONS)
        arrival = START + timedelta(days=rng.randrange(0, 20))
        size = rng.choices([1, 2, 3, 4], weights=[55, 25, 12, 8])[0]
        twin_birth = date(1970, 1, 1) + timedelta(days=rng.randrange(0, 12000))
        twins = size >= 2 and rng.random() < 0.3
        generation = rng.choice(GIVEN)
        household_names: set[str] = set()
        for member in range(size):
            birth = twin_birth if twins else date(1965, 1, 1) + timedelta(days=rng.randrange(0, 14000))
            female = rng.random() < 0.4
            if rng.random() < 0.5:
                given = generation + rng.choice(GIVEN)  # siblings often share a character
            else:
                given = "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 1, 2])))
            name = surname + given
            while name in household_names:  # parents do not give two children one name
                name = surname + generation + rng.choice(GIVEN)
            household_names.add(name)
            if rng.random() < 0.01:
                name = "阿不都·" + given
            people.append({
                "person_id": f"P{len(people):07d}", "name": name, "county": county,
                "birth": birth, "female": female,
                "id": id_number(county, birth, len(people), female),
                "phone": phone if member == 0 or rng.random() < 0.7 else
                "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9)),
                "destination": destination, "arrival": arrival + timedelta(days=rng.randrange(0, 2)),
                "mode": rng.choice(MODES), "employer": f"91{destination}0000MA{rng.randrange(10**7):07d}",
            })

    rows: list[dict] = []
    for person in people[:n_persons]:
        sides = rng.choices([("sending",), ("receiving",), ("sending", "receiving")],
                            weights=[25, 25, 50])[0]
        if rng.random() < 0.05:
            sides = sides + (sides[0],)  # reported again days later
        for number, role in enumerate(sides):
            province = person["county"][:2] if role == "sending" else person["destination"]
            report = person["arrival"] + timedelta(days=number + rng.randrange(0, 2))
            name = person["name"]
            luck = rng.random()
            if luck < 0.08:
                name = "".join(_S2T.convert(char) for char in name)
            elif luck < 0.12 and name[-1] in HOMOPHONES:
                name = name[:-1] + HOMOPHONES[name[-1]]
            elif luck < 0.14:
                name = name[0] + " " + name[1:]
            id_luck = rng.random()
            id_raw = person["id"]
            if id_luck < p_missing_id:
                id_raw = None
            elif id_luck < p_missing_id + 0.04:
                id_raw = _mistype(id_raw, rng)
            elif id_luck < p_missing_id + 0.08:
                id_raw = id_raw.lower() if id_raw[-1] == "X" else " ".join([id_raw[:6], id_raw[6:]])
            raw_norm = None if id_raw is None else id_raw.upper().replace(" ", "")
            valid = raw_norm if raw_norm == person["id"] else None
            rows.append({
                "person_id": person["person_id"], "province": province, "report_date": report,
                "version": 1, "file": "workers.csv", "name": name,
                "id_number": valid, "id_number_raw": raw_norm,
                "sex": "F" if person["female"] else "M",
                "birth_date": person["birth"] if rng.random() < 0.85 else None,
                "phone": None if rng.random() < 0.15 else person["phone"],
                "phone_as_given": None,
                "origin_county": person["county"], "origin_province": person["county"][:2],
                "destination_province": person["destination"], "destination_city": None,
                "employer_uscc": person["employer"] if role == "receiving" else None,
                "employer_name": None,
                "mode": person["mode"] if role == "sending" else rng.choice(MODES),
                "trip_ref": None, "departure_date": None,
                "arrival_date": person["arrival"] + timedelta(days=0 if role == "sending" else rng.choice([0, 0, 1])),
                "origin_risk": None, "role": role,
            })
    frame = pd.DataFrame(rows)
    frame["package"] = frame["province"] + "_" + pd.to_datetime(frame["report_date"]).dt.strftime("%Y%m%d") + "_v1"
    frame = frame.sort_values(["package"], kind="mergesort").reset_index(drop=True)
    frame["row_number"] = frame.groupby("package").cumcount().astype("int64") + 1
    frame["record_id"] = "R" + frame["row_number"].astype(str)
    frame["phone"] = frame["phone"].map(lambda p: _phone_as_given(p, rng) if isinstance(p, str) else None)
    truth = frame.pop("person_id")
    frame = frame.drop(columns=["phone_as_given"])
    return frame, truth


def pairwise_quality(record_person: pd.DataFrame, workers: pd.DataFrame, truth: pd.Series
                     ) -> tuple[float, float]:
    """Pairwise precision and recall of the linkage against the known persons."""
    truth_frame = workers[["package", "file", "row_number"]].assign(person_id=truth.values)
    joined = record_person.merge(truth_frame, on=["package", "file", "row_number"], validate="1:1")

    def pairs(column: str) -> set[tuple[int, int]]:
        found: set[tuple[int, int]] = set()
        for members in joined.groupby(column).indices.values():
            members = sorted(members)
            found.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
        return found

    predicted, actual = pairs("person_key"), pairs("person_id")
    true_positive = len(predicted & actual)
    precision = true_positive / len(predicted) if predicted else 1.0
    recall = true_positive / len(actual) if actual else 1.0
    return precision, recall


def staged(rows: list[dict]) -> pd.DataFrame:
    """A staged-workers frame from a few hand-written records (defaults for the rest)."""
    defaults = {
        "version": 1, "file": "workers.csv", "id_number": None, "id_number_raw": None,
        "sex": "M", "birth_date": date(1990, 5, 1), "phone": "13800138000",
        "origin_county": "510104", "origin_province": "51", "destination_province": "44",
        "destination_city": None, "employer_uscc": None, "employer_name": None,
        "mode": "chartered_bus", "trip_ref": None, "departure_date": None,
        "arrival_date": date(2020, 2, 20), "origin_risk": None,
    }
    records = []
    for number, row in enumerate(rows, start=1):
        record = {**defaults, **row}
        record.setdefault("province", record["origin_county"][:2]
                          if record.get("role", "sending") == "sending" else record["destination_province"])
        record.setdefault("role", "sending")
        record.setdefault("report_date", record["arrival_date"])
        record.setdefault(
            "package", f"{record['province']}_{record['report_date']:%Y%m%d}_v{record['version']}")
        record.setdefault("row_number", number)
        record.setdefault("record_id", f"R{number}")
        if record["id_number"] and not record["id_number_raw"]:
            record["id_number_raw"] = record["id_number"]
        records.append(record)
    return pd.DataFrame(records)


def stage(settings, workers: pd.DataFrame, status: str = "accepted") -> None:
    """Write each package of `workers` into the staging zone as validation would."""
    from returnstats.validation.staging import write_package

    for package, rows in workers.groupby("package", sort=True):
        first = rows.iloc[0]
        meta = {"package": package, "province": first["province"],
                "report_date": pd.Timestamp(first["report_date"]).date().isoformat(),
                "version": int(first["version"]), "status": status}
        write_package(settings.staging, package, meta, {"workers": rows})
