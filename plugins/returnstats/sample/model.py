"""The simulated world: persons who return to work, key enterprises, and the worker records
that sending and receiving provinces make of them (with realistic noise, never in the truth)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from stdnum.cn import ric, uscc

from returnstats.sample import reference as ref

MODES = ("chartered_bus", "special_train", "train_carriage", "charter_flight")
MODE_SHARES = (0.60, 0.20, 0.15, 0.05)
# Labour-exporting provinces and the provinces they flow to (weights, not shares).
EXPORTERS = {"41": 14, "51": 12, "34": 10, "43": 9, "52": 7, "36": 7, "45": 7, "42": 7,
             "50": 6, "62": 4, "53": 5}
RECEIVERS = {"44": 30, "33": 18, "32": 15, "31": 10, "11": 7, "35": 8, "37": 6, "12": 4}
OTHER_ORIGIN_WEIGHT = 0.5
OTHER_DESTINATION_WEIGHT = 0.25
CROSS_PROVINCE_SHARE = 0.8
KEY_ENTERPRISES_PER_PROVINCE = 250
OTHER_ENTERPRISES_PER_PROVINCE = 50
# Resolution days are uniform on [-1, 6.15) from the first report date: about 14% are
# resolved on the first day and 98% (≈ 7,600 of 7,750 key enterprises) on the seventh.
RESOLUTION_FIRST_DAY = -1.0
RESOLUTION_LAST_DAY = 6.15
PHONE_PREFIXES = np.array(["130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                           "151", "152", "157", "158", "159", "176", "177", "180", "182", "186",
                           "187", "188", "189", "191", "199"])
USCC_ALPHABET = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
INDUSTRIES = ("电子", "机械", "纺织", "食品", "汽车零部件", "建材", "物流", "服装", "制药",
              "家具", "塑料制品", "五金", "电器", "印刷", "玩具")
COMPANY_SUFFIXES = ("有限公司", "股份有限公司", "科技有限公司", "实业有限公司")
CHANNELS = ("return_assist", "surplus_deficit", "local_recruitment", "labour_export")


def _weights(table: dict[str, float], codes: list[str], other: float) -> np.ndarray:
    w = np.array([table.get(c, other) for c in codes], dtype=float)
    return w / w.sum()


def _pick(rng: np.random.Generator, pools: dict[str, np.ndarray], keys: np.ndarray) -> np.ndarray:
    """One random element of pools[key] for each key (vectorised per distinct key)."""
    out = np.empty(len(keys), dtype=object)
    for key in np.unique(keys):
        mask = keys == key
        pool = pools[key]
        out[mask] = pool[rng.integers(0, len(pool), mask.sum())]
    return out


def make_uscc(rng: np.random.Generator, province: str, n: int) -> list[str]:
    counties = np.array([c.code for c in ref.counties()[province]])
    admin = counties[rng.integers(0, len(counties), n)]
    org = rng.integers(0, 10**8, n)
    org_check = USCC_ALPHABET[rng.integers(0, 31, n)]
    body = [f"91{a}{o:08d}{c}" for a, o, c in zip(admin, org, org_check)]
    return [b + uscc.calc_check_digit(b) for b in body]


def enterprises(rng: np.random.Generator) -> pd.DataFrame:
    """The enterprise register: per province key and other enterprises, each with a labour
    gap and the day (from the first report date) on which it is filled."""
    frames = []
    cities = ref.cities()
    for code in ref.provinces():
        n = KEY_ENTERPRISES_PER_PROVINCE + OTHER_ENTERPRISES_PER_PROVINCE
        usccs = make_uscc(rng, code, n)
        city = np.array(cities[code])[rng.integers(0, len(cities[code]), n)]
        industry = np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), n)]
        suffix = np.array(COMPANY_SUFFIXES)[rng.integers(0, len(COMPANY_SUFFIXES), n)]
        names = [f"{c}{'宏达恒丰华盛金鼎永兴鑫源'[i % 6 * 2:i % 6 * 2 + 2]}{ind}{s}"
                 for i, (c, ind, s) in enumerate(zip(city, industry, suffix))]
        frames.append(pd.DataFrame({
            "province": code,
            "enterprise_uscc": usccs,
            "enterprise_name": names,
            "key_enterprise": np.arange(n) < KEY_ENTERPRISES_PER_PROVINCE,
            "labour_gap": rng.integers(5, 400, n),
            "resolved_day": RESOLUTION_FIRST_DAY + rng.random(n) * (RESOLUTION_LAST_DAY - RESOLUTION_FIRST_DAY),
            "initial_share": rng.random(n) * 0.3,
            "channel": np.array(CHANNELS)[rng.integers(0, 4, n)],
        }))
    register = pd.concat(frames, ignore_index=True)
    return register.drop_duplicates("enterprise_uscc", ignore_index=True)


def workers_supplied(register: pd.DataFrame, day: np.ndarray) -> np.ndarray:
    """Workers supplied by status day: rising, reaching the gap exactly on the resolved day."""
    gap = register["labour_gap"].to_numpy()
    resolved = register["resolved_day"].to_numpy()
    share = register["initial_share"].to_numpy()
    elapsed = np.clip(day - RESOLUTION_FIRST_DAY, 0, None) / (resolved - RESOLUTION_FIRST_DAY)
    progress = share + (1 - share) * elapsed
    partial = np.minimum(np.floor(gap * progress), gap - 1).astype(np.int64)
    return np.where(day >= resolved, gap, np.clip(partial, 0, None))


def persons(rng: np.random.Generator, start: date, days: int, per_day: int,
            register: pd.DataFrame) -> pd.DataFrame:
    """TRUE identities of everyone who returns: `day` is the true return day (0 = start)."""
    codes = list(ref.provinces())
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    origin = np.array(codes)[rng.choice(len(codes), n, p=_weights(EXPORTERS, codes, OTHER_ORIGIN_WEIGHT))]
    dest_p = _weights(RECEIVERS, codes, OTHER_DESTINATION_WEIGHT)
    destination = np.array(codes)[rng.choice(len(codes), n, p=dest_p)]
    clash = destination == origin
    while clash.any():
        destination[clash] = np.array(codes)[rng.choice(len(codes), clash.sum(), p=dest_p)]
        clash = destination == origin
    within = rng.random(n) >= CROSS_PROVINCE_SHARE
    destination = np.where(within, origin, destination)

    county_pool = {c: np.array([x.code for x in v]) for c, v in ref.counties().items()}
    county_from = {x.code: x.valid_from for v in ref.counties().values() for x in v}
    origin_county = _pick(rng, county_pool, origin)
    mode = np.array(MODES)[rng.choice(4, n, p=MODE_SHARES)]
    male = rng.random(n) < 0.65
    phone = np.char.add(PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), n)],
                        np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8))

    # Households travel together: same surname, county, phone, mode, destination, day.
    household = rng.random(n) < 0.06
    household[0] = False
    household[1:] &= day[1:] == day[:-1]
    idx = np.arange(n)
    leader = np.maximum.accumulate(np.where(household, 0, idx))
    twin = household & (rng.random(n) < 0.2)
    surname_idx = rng.integers(0, len(ref.SURNAMES), n) ** 2 // len(ref.SURNAMES)  # skew to common
    for arr in (origin_county, mode, phone, destination, origin, surname_idx):
        arr[:] = arr[leader]

    # ID county: normally the origin county, sometimes another county of the province.
    id_county = origin_county.copy()
    moved = (rng.random(n) < 0.03) & ~household & ~np.roll(household, -1)
    id_county[moved] = _pick(rng, county_pool, origin[moved])
    valid_from = np.array([county_from[c] for c in id_county])
    first_year = np.maximum(valid_from, 1962)
    birth_year = first_year + (rng.random(n) * (2002 - first_year + 1)).astype(int)
    birth = (pd.to_datetime(pd.Series(birth_year.astype(str)), format="%Y")
             + pd.to_timedelta(rng.integers(0, 365, n), unit="D")).to_numpy()
    birth = np.where(twin, birth[leader], birth)
    birth = pd.Series(birth).dt.normalize()
    # Keep IDs valid for stdnum: a birth in the last year of a code's start is still fine.
    id_body = id_county.astype(object) + birth.dt.strftime("%Y%m%d").to_numpy().astype(object)
    seq = rng.integers(0, 500, n) * 2 + male.astype(int)
    ids = id_body + np.char.zfill(seq.astype(str), 3).astype(object)
    dup = pd.Series(ids).duplicated().to_numpy()
    while dup.any():
        seq[dup] = rng.integers(0, 500, dup.sum()) * 2 + male[dup].astype(int)
        ids = id_body + np.char.zfill(seq.astype(str), 3).astype(object)
        dup = pd.Series(ids).duplicated().to_numpy()
    id_number = np.array([b + ric.calc_check_digit(b + "0") for b in ids], dtype=object)

    surnames = np.array(list(ref.SURNAMES))[surname_idx]
    given_m, given_f = np.array(list(ref.GIVEN_MALE)), np.array(list(ref.GIVEN_FEMALE))
    g1 = np.where(male, given_m[rng.integers(0, len(given_m), n)], given_f[rng.integers(0, len(given_f), n)])
    g2 = np.where(male, given_m[rng.integers(0, len(given_m), n)], given_f[rng.integers(0, len(given_f), n)])
    two = rng.random(n) < 0.7
    given = np.where(two, np.char.add(g1, g2), g1).astype(object)
    same_as_leader = household & (given == given[leader])
    given[same_as_leader] = given[same_as_leader] + "二"
    name = surnames.astype(object) + given
    minority = (origin == "65") & (rng.random(n) < 0.6) | (rng.random(n) < 0.003)
    name[minority] = np.array(ref.MINORITY_NAMES, dtype=object)[rng.integers(0, len(ref.MINORITY_NAMES), minority.sum())]

    pools = {p: g.index.to_numpy() for p, g in register.groupby("province")}
    employer = _pick(rng, pools, destination).astype(int)
    city_pool = {c: np.array(v, dtype=object) for c, v in ref.cities().items()}
    trip_prefix = {"chartered_bus": "BUS", "special_train": "Z", "train_carriage": "K", "charter_flight": "CZ"}
    trip_ref = np.array([trip_prefix[m] for m in mode], dtype=object) + rng.integers(100, 9999, n).astype(str).astype(object)
    trip_ref = trip_ref[leader]
    return pd.DataFrame({
        "person_id": [f"P{i:07d}" for i in idx],
        "day": day,
        "origin_county": origin_county,
        "origin_province": origin,
        "destination_province": destination,
        "destination_city": _pick(rng, city_pool, destination),
        "mode": mode,
        "trip_ref": trip_ref,
        "name": name,
        "surname_len": np.where(minority, 0, 1),
        "sex": np.where(male, "M", "F"),
        "birth_date": birth,
        "id_number": id_number,
        "phone": phone.astype(object),
        "employer_uscc": register["enterprise_uscc"].to_numpy()[employer],
        "employer_name": register["enterprise_name"].to_numpy()[employer],
        "household_leader": leader,
    })


def records(rng: np.random.Generator, people: pd.DataFrame, days: int,
            campaign_offset: int) -> pd.DataFrame:
    """Worker records as the provinces make them: `report_day` and `arrival_day` relative to
    the first report date; noise is applied here, planted errors later."""
    n = len(people)
    within = (people["origin_province"] == people["destination_province"]).to_numpy()
    pattern = rng.random(n)
    sends = within | (pattern < 0.85)
    receives = ~within & ((pattern < 0.60) | (pattern >= 0.85))
    day = people["day"].to_numpy()

    send_idx = np.flatnonzero(sends)
    recv_idx = np.flatnonzero(receives)
    delayed = (rng.random(len(recv_idx)) < 0.3) & (day[recv_idx] + 1 < days)
    shifted = rng.random(len(recv_idx)) < 0.05
    shift = np.where(delayed, rng.choice([-1, 1], len(recv_idx)), -1) * shifted
    recv_arrival = day[recv_idx] + shift
    recv_arrival = np.where(recv_arrival < campaign_offset, day[recv_idx], recv_arrival)

    person = np.concatenate([send_idx, recv_idx])
    rec = people.iloc[person].reset_index(drop=True)
    rec["person"] = person
    rec["province"] = np.concatenate([people["origin_province"].to_numpy()[send_idx],
                                      people["destination_province"].to_numpy()[recv_idx]])
    rec["report_day"] = np.concatenate([day[send_idx], day[recv_idx] + delayed])
    rec["arrival_day"] = np.concatenate([day[send_idx], recv_arrival])
    m = len(rec)
    rec["departure_day"] = rec["arrival_day"] - np.where(rec["mode"] == "charter_flight", 0, rng.integers(0, 3, m))

    rec["true_id"] = rec["id_number"]
    rec["true_employer"] = rec["employer_uscc"]
    # Noise on names.
    name = rec["name"].to_numpy().copy()
    trad = rng.random(m) < 0.05
    name[trad] = [s.translate(ref.TRADITIONAL) for s in name[trad]]
    homo = (rng.random(m) < 0.03) & (rec["surname_len"].to_numpy() == 1)
    name[homo] = [s[0] + "".join(ref.HOMOPHONES.get(c, c) for c in s[1:]) for s in name[homo]]
    rec["name"] = name

    # Noise on ID numbers: missing, one wrong digit (a warning), formatting variants.
    ident = rec["id_number"].to_numpy().copy()
    u = rng.random(m)
    wrong = (u >= 0.08) & (u < 0.11)
    pos = rng.integers(14, 16, wrong.sum())  # sequence digits: birth date and sex stay right
    ident[wrong] = [s[:p] + str((int(s[p]) + 1 + k) % 10) + s[p + 1:]
                    for s, p, k in zip(ident[wrong], pos, rng.integers(0, 9, wrong.sum()))]
    v = rng.random(m)
    lower = (v < 0.02)
    ident[lower] = [s.lower() for s in ident[lower]]
    spaced = (v >= 0.02) & (v < 0.04)
    ident[spaced] = [f"{s[:6]} {s[6:14]} {s[14:]}" for s in ident[spaced]]
    full = (v >= 0.04) & (v < 0.055)
    ident[full] = [s.translate(_FULL_WIDTH) for s in ident[full]]
    ident[u < 0.08] = ""
    rec["id_number"] = ident
    rec["id_wrong_digit"] = wrong

    # Noise on phones.
    phone = rec["phone"].to_numpy().copy()
    w = rng.random(m)
    plus = w < 0.05
    phone[plus] = ["+86 " + p for p in phone[plus]]
    space = (w >= 0.05) & (w < 0.09)
    phone[space] = [f"{p[:3]} {p[3:7]} {p[7:]}" for p in phone[space]]
    dash = (w >= 0.09) & (w < 0.12)
    phone[dash] = [f"{p[:3]}-{p[3:7]}-{p[7:]}" for p in phone[dash]]
    phone[w >= 0.90] = ""
    rec["phone"] = phone

    rec["birth_date"] = rec["birth_date"].where(rng.random(m) < 0.8)
    rec["origin_risk"] = np.where(rng.random(m) < 0.7, "low", "")
    is_recv = np.arange(m) >= len(send_idx)
    keep_employer = rng.random(m) < np.where(is_recv, 0.95, 0.6)
    rec["employer_uscc"] = rec["employer_uscc"].where(keep_employer, "")
    rec["employer_name"] = rec["employer_name"].where(keep_employer, "")
    rec["destination_city"] = rec["destination_city"].where(rng.random(m) < 0.7, "")
    return rec.drop(columns=["surname_len", "household_leader"])


_FULL_WIDTH = str.maketrans({**{str(d): chr(0xFF10 + d) for d in range(10)}, "X": "Ｘ"})
