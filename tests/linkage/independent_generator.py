"""An independent generator of staged worker records with known persons (issue 20).

It shares no code with `returnstats.sample` (nor with `synthetic.py`): its own names,
households, provinces and damage, so that the linkage model, trained on the sample,
is measured on data it never saw. It differs from the sample where real reports differ:

- a missing-ID share set by the caller (10%..60%);
- provinces with their own formats: spreadsheet provinces whose IDs Excel turned into
  scientific notation ("4.50511E+17"), rounded to 15 digits ("…000") or truncated;
  provinces writing phones with country codes ("+86 …", "0086…") or separators;
  provinces typing names in traditional characters, others in pinyin ("Zhang Wei");
- households sharing one phone, twins (same birth date, surname, county and phone);
- a phone with an extra digit, IDs with a wrong check digit.

The records come out as validation stages them (`validation.staging.WORKERS_SCHEMA`):
the values as written go through the pipeline's own value rules (`reports.values`,
what validation applies), so `id_number` is the valid ID, `id_number_raw` the ID as
normalised (however mangled), `phone` the 11 digits or null.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pandas as pd
from opencc import OpenCC
from pypinyin import lazy_pinyin
from returnstats.reports import values

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

FAMILY = ("欧阳", "司马", "诸葛", "王", "李", "张", "刘", "陈", "杨", "黄", "周", "吴", "徐",
          "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩",
          "唐", "冯", "于", "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭",
          "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛", "叶", "阎", "余", "潘", "杜")
GIVEN_CHARS = ("志", "强", "秀", "兰", "桂", "英", "红", "梅", "德", "明", "永", "福", "金",
               "春", "海", "小", "丽", "建", "军", "国", "庆", "宏", "玉", "凤", "成", "俊",
               "刚", "宁", "佳", "欣", "雨", "晓", "子", "涵", "浩", "然", "思", "怡", "博",
               "文", "辉", "华", "勇", "波", "娟", "敏", "洋", "磊", "婷", "琴", "慧", "亮")
# Same sound, other character: a clerk typing by ear.
SOUNDALIKE = {"志": "智", "强": "墙", "兰": "岚", "英": "瑛", "红": "虹", "梅": "玫", "明": "鸣",
              "春": "椿", "丽": "莉", "军": "钧", "玉": "钰", "俊": "骏", "佳": "嘉", "欣": "馨"}
ORIGIN_PROVINCES = ("45", "52", "53", "51", "43", "42", "41", "36", "34", "13", "15", "22")
DESTINATION_PROVINCES = ("44", "33", "32", "31", "11", "12", "35", "37")
DAY_ONE = date(2021, 2, 22)
MODES = ("special_train", "chartered_bus", "train_carriage", "charter_flight")


@dataclass(frozen=True)
class Formats:
    """How one province writes its spreadsheets."""

    spreadsheet_ids: bool = False
    """IDs stored as numbers by Excel: some come out mangled."""
    phone_style: str = "plain"
    """plain | country_code | separators"""
    name_script: str = "simplified"
    """simplified | traditional | pinyin (some of the province's names)"""


def province_formats(seed: int) -> dict[str, Formats]:
    """Each reporting province's formats, drawn once per seed."""
    rng = random.Random(seed * 7919 + 1)
    formats = {}
    for code in sorted(set(ORIGIN_PROVINCES + DESTINATION_PROVINCES)):
        formats[code] = Formats(
            spreadsheet_ids=rng.random() < 0.4,
            phone_style=rng.choice(["plain", "country_code", "separators"]),
            name_script=rng.choices(["simplified", "traditional", "pinyin"], [6, 2, 2])[0],
        )
    return formats


def id_with_check(body: str) -> str:
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + _CHECK[total % 11]


def _scientific(id_number: str) -> str:
    """Excel's General format of an 18-digit number: six significant digits."""
    return f"{float(id_number):.5E}"


def _mangled(id_number: str, rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["scientific", "rounded", "truncated"])
    if kind == "scientific":
        return _scientific(id_number), kind
    if kind == "rounded":
        return id_number[:15] + "000", kind
    return id_number[: rng.choice([15, 16, 17])], kind


def _wrong_check(id_number: str, rng: random.Random) -> str:
    position = rng.randrange(17)
    digit = str((int(id_number[position]) + rng.randrange(1, 10)) % 10)
    return id_number[:position] + digit + id_number[position + 1:]


def _phone_written(phone: str, style: str, rng: random.Random) -> str:
    if rng.random() < 0.02:  # an extra digit: damaged, staged as missing
        return phone + str(rng.randrange(10))
    if style == "country_code":
        return rng.choice([f"+86 {phone}", f"0086{phone}", f"+86-{phone[:3]}-{phone[3:]}"])
    if style == "separators":
        return rng.choice([f"{phone[:3]}-{phone[3:7]}-{phone[7:]}", f"{phone[:3]} {phone[3:7]} {phone[7:]}"])
    return phone


_TRADITIONAL = OpenCC("s2t")


def _pinyin_name(family: str, given: str) -> str:
    return " ".join(["".join(lazy_pinyin(family)).capitalize(), "".join(lazy_pinyin(given))])


def _sound(text: str) -> str:
    return "".join(lazy_pinyin(text))


class _People:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used_ids: set[str] = set()

    def given_name(self, taken_sounds: set[str], generation: str | None) -> str:
        while True:
            if generation and self.rng.random() < 0.6:
                given = generation + self.rng.choice(GIVEN_CHARS)
            else:
                given = "".join(self.rng.choice(GIVEN_CHARS) for _ in range(self.rng.choice([1, 2, 2])))
            # Parents do not give two children names that sound the same.
            if _sound(given) not in taken_sounds:
                taken_sounds.add(_sound(given))
                return given

    def id_number(self, county: str, birth: date, female: bool) -> str:
        while True:
            serial = self.rng.randrange(500) * 2 + (0 if female else 1)
            candidate = id_with_check(f"{county}{birth:%Y%m%d}{serial:03d}")
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate


@cache
def counties() -> dict[str, tuple[tuple[str, int], ...]]:
    """Per origin province, (county code, first year it was assigned) of the codes still
    assigned: read from python-stdnum's table (the one validation checks ID address
    codes against), not from the project."""
    import stdnum

    table = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    found: dict[str, list[tuple[str, int]]] = {code: [] for code in ORIGIN_PROVINCES}
    province = ""
    for line in table.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            province = line[:2]
        elif province in found and line.startswith("  "):
            suffix, entry = line.split(maxsplit=1)
            since = re.match(r'county="\[(\d*)-\]', entry)  # [1983-]: assigned since 1983
            if suffix.endswith("00") or ('"[' in entry and not since):
                continue
            first = int(since[1] or 0) if since else 0
            if first <= 1995:
                found[province].append((province + suffix, max(first, 1962)))
    return {code: tuple(values) for code, values in found.items()}


def _persons(n: int, rng: random.Random) -> list[dict]:
    people = _People(rng)
    persons: list[dict] = []
    while len(persons) < n:
        origin = rng.choice(ORIGIN_PROVINCES)
        county, first_year = rng.choice(counties()[origin])
        born_from = date(first_year, 1, 1)
        born_span = (date(2003, 12, 31) - born_from).days
        family = rng.choice(FAMILY)
        size = rng.choices([1, 2, 3, 4, 5], [45, 25, 15, 10, 5])[0]
        household_phone = "1" + rng.choice("356789") + f"{rng.randrange(10**9):09d}"
        destination = rng.choice(DESTINATIONS_BY_ORIGIN.get(origin, DESTINATION_PROVINCES))
        departure = DAY_ONE + timedelta(days=rng.randrange(0, 14))
        twins = size >= 2 and rng.random() < 0.25
        twin_birth = born_from + timedelta(days=rng.randrange(0, born_span))
        generation = rng.choice(GIVEN_CHARS) if rng.random() < 0.5 else None
        sounds: set[str] = set()
        for member in range(size):
            birth = twin_birth if twins and member < 2 else \
                born_from + timedelta(days=rng.randrange(0, born_span))
            female = rng.random() < 0.45
            own_phone = rng.random() < 0.4 and member > 0
            persons.append({
                "person_id": f"Q{len(persons):07d}",
                "family": family, "given": people.given_name(sounds, generation),
                "county": county, "birth": birth, "female": female,
                "id": people.id_number(county, birth, female),
                "phone": ("1" + rng.choice("356789") + f"{rng.randrange(10**9):09d}")
                if own_phone else household_phone,
                "destination": destination, "departure": departure,
                "mode": rng.choice(MODES),
                "employer": f"92{destination}0100MA{rng.randrange(10**8):08d}",
            })
    return persons[:n]


# Migrants travel along corridors: most from one origin go to two or three destinations.
DESTINATIONS_BY_ORIGIN = {o: DESTINATION_PROVINCES[i % 8:i % 8 + 3] or DESTINATION_PROVINCES
                          for i, o in enumerate(ORIGIN_PROVINCES)}


def generate(n_persons: int, *, missing_id: float = 0.3, mangle: float = 0.5,
             seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(staged workers, truth): truth has, per row, `person_id` and `id_damage` (None,
    "missing", "scientific", "rounded", "truncated", "check_digit"). `mangle` is the
    share of IDs a spreadsheet province's Excel mangles."""
    rng = random.Random(seed)
    formats = province_formats(seed)
    rows: list[dict] = []
    for person in _persons(n_persons, rng):
        sides = rng.choices([("sending",), ("receiving",), ("sending", "receiving")], [20, 30, 50])[0]
        if rng.random() < 0.06:
            sides = (*sides, "receiving")  # reported again after changing employer
        for number, role in enumerate(sides):
            province = person["county"][:2] if role == "sending" else person["destination"]
            style = formats[province]
            arrival = person["departure"] + timedelta(days=rng.choice([0, 1, 1, 2]))
            report = arrival + timedelta(days=number + rng.randrange(0, 3))
            # Name as written.
            family, given = person["family"], person["given"]
            if rng.random() < 0.03 and given[-1] in SOUNDALIKE:
                given = given[:-1] + SOUNDALIKE[given[-1]]
            name = family + given
            if style.name_script == "traditional" and rng.random() < 0.7:
                name = _TRADITIONAL.convert(name)
            elif style.name_script == "pinyin" and rng.random() < 0.4:
                name = _pinyin_name(family, given)
            elif rng.random() < 0.03:
                name = family + " " + given
            # ID as written.
            damage = None
            if rng.random() < missing_id:
                id_written, damage = None, "missing"
            elif style.spreadsheet_ids and person["id"][-1] != "X" and rng.random() < mangle:
                # Excel keeps an ID ending in X as text; an all-digit one becomes a number.
                id_written, damage = _mangled(person["id"], rng)
            elif rng.random() < 0.02:
                id_written, damage = _wrong_check(person["id"], rng), "check_digit"
            else:
                id_written = person["id"] if rng.random() < 0.9 else person["id"].lower()
            phone = None if rng.random() < 0.1 else person["phone"]
            if phone is not None and rng.random() < 0.04:
                phone = "1" + rng.choice("356789") + f"{rng.randrange(10**9):09d}"  # a new number
            rows.append({
                "person_id": person["person_id"], "id_damage": damage,
                "province": province, "report_date": report, "role": role,
                "name": name, "id_written": id_written,
                "phone_written": None if phone is None else _phone_written(phone, style.phone_style, rng),
                "sex": "F" if person["female"] else "M",
                "birth_date": None if rng.random() < 0.1 else person["birth"],
                "origin_county": person["county"], "destination_province": person["destination"],
                "employer_uscc": person["employer"] if role == "receiving" else None,
                "mode": person["mode"] if role == "sending" else rng.choice(MODES),
                "arrival_date": arrival,
            })
    return _staged(pd.DataFrame(rows))


def _staged(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows as validation stages them, in package order, and the truth beside them."""
    frame["package"] = (frame["province"] + "_" +
                        pd.to_datetime(frame["report_date"]).dt.strftime("%Y%m%d") + "_v1")
    frame = frame.sort_values("package", kind="mergesort").reset_index(drop=True)
    frame["row_number"] = frame.groupby("package").cumcount().astype("int64") + 1
    frame["record_id"] = "W" + frame["row_number"].astype(str).str.zfill(5)
    frame["version"], frame["file"] = 1, "workers.csv"
    normalised, valid = values.check_ids(frame["id_written"])
    frame["id_number_raw"] = normalised.where(frame["id_written"].notna(), None)
    frame["id_number"] = frame["id_number_raw"].where(valid, None)
    frame["phone"] = values.normalise_phone(frame["phone_written"])
    frame["origin_province"] = frame["origin_county"].str[:2]
    for column in ("destination_city", "employer_name", "trip_ref", "departure_date", "origin_risk"):
        frame[column] = None
    truth = frame[["person_id", "id_damage"]].copy()
    staged = frame.drop(columns=["person_id", "id_damage", "id_written", "phone_written"])
    return staged, truth
