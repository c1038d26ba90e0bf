"""How each province writes its package (SPEC §2): format, encoding, headers, value aliases;
and the writing of data files, manifests, directories and zips, byte-for-byte reproducible."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from returnstats.sample import reference as ref

WORKER_COLUMNS = ("record_id", "name", "id_number", "sex", "birth_date", "phone", "origin_county",
                  "destination_province", "destination_city", "employer_uscc", "employer_name",
                  "mode", "trip_ref", "departure_date", "arrival_date", "origin_risk")
ENTERPRISE_COLUMNS = ("enterprise_uscc", "enterprise_name", "key_enterprise", "labour_gap",
                      "workers_supplied", "channel", "status_date")
DATE_COLUMNS = ("birth_date", "departure_date", "arrival_date", "status_date")

HEADERS_ZH = {
    "record_id": "记录号", "name": "姓名", "id_number": "身份证号", "sex": "性别",
    "birth_date": "出生日期", "phone": "手机号", "origin_county": "户籍地区县代码",
    "destination_province": "务工省份", "destination_city": "务工城市",
    "employer_uscc": "用工单位统一社会信用代码", "employer_name": "用工单位", "mode": "返岗方式",
    "trip_ref": "车次航班号", "departure_date": "出发日期", "arrival_date": "到岗日期",
    "origin_risk": "出发地风险等级",
    "enterprise_uscc": "统一社会信用代码", "enterprise_name": "企业名称",
    "key_enterprise": "是否重点企业", "labour_gap": "用工缺口", "workers_supplied": "已解决用工",
    "channel": "解决渠道", "status_date": "统计日期",
}
HEADERS_ZH_ALT = {**HEADERS_ZH, "record_id": "序号", "id_number": "公民身份号码", "phone": "联系电话",
                  "origin_county": "输出地区县代码", "destination_province": "输入省份",
                  "mode": "交通方式", "trip_ref": "班次", "arrival_date": "抵达日期"}
MODE_ZH = {"special_train": "专列", "chartered_bus": "包车", "train_carriage": "车厢", "charter_flight": "包机"}
MODE_EN_ALIAS = {"special_train": "Special Train", "chartered_bus": "bus",
                 "train_carriage": "carriage", "charter_flight": "Plane"}
CHANNEL_ZH = {"return_assist": "协助返岗", "surplus_deficit": "余缺调剂",
              "local_recruitment": "挖掘本地潜力", "labour_export": "劳务输出"}
RISK_ZH = {"low": "低", "medium": "中", "high": "高"}
SEX_ZH = {"M": "男", "F": "女"}
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Style:
    fmt: str = "csv"  # csv | xlsx | json | jsonl
    encoding: str = "utf-8"  # utf-8 | utf-8-sig | gb18030
    headers: str = "en"  # en | zh | zh_alt
    zipped: bool = False
    dates: str = "iso"  # iso | slash | zh | compact | native (xlsx date cells)
    destination: str = "code"  # code | zh_full | zh_short | en
    modes: str = "canonical"  # canonical | zh | en_alias
    newline: str = "\n"
    declares_totals: bool = True

    @property
    def chinese(self) -> bool:
        return self.headers != "en"

    @property
    def extension(self) -> str:
        return self.fmt


# Deterministic by province code; every other province: UTF-8 CSV, English headers, codes.
STYLES: dict[str, Style] = {
    "41": Style(encoding="gb18030", headers="zh", dates="slash", destination="zh_full", modes="zh", newline="\r\n"),
    "43": Style(encoding="gb18030", headers="zh_alt", dates="zh", destination="zh_short", modes="zh", newline="\r\n"),
    "36": Style(encoding="gb18030", headers="zh", dates="compact", destination="zh_short", modes="zh"),
    "52": Style(encoding="gb18030", headers="zh", zipped=True, destination="zh_full", modes="zh"),
    "51": Style(encoding="utf-8-sig", headers="zh", zipped=True, destination="en", modes="zh"),
    "35": Style(encoding="utf-8-sig", headers="zh", dates="slash", modes="zh"),
    "13": Style(modes="en_alias", destination="en"),
    "37": Style(zipped=True, dates="compact"),
    "33": Style(zipped=True),
    "46": Style(fmt="xlsx", headers="zh", modes="zh"),
    "63": Style(fmt="xlsx", dates="native"),
    "54": Style(fmt="xlsx", headers="zh", dates="zh", modes="zh", destination="zh_short"),
    "64": Style(fmt="json", declares_totals=False),
    "65": Style(fmt="jsonl", destination="zh_short", declares_totals=False),
}


def style_of(province: str) -> Style:
    return STYLES.get(province, Style())


def format_date(style: Style, value: date) -> str | date:
    if style.dates == "native":
        return value
    if style.dates == "slash":
        return f"{value.year}/{value.month}/{value.day}"
    if style.dates == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    if style.dates == "compact":
        return value.strftime("%Y%m%d")
    return value.isoformat()


def _dates(style: Style, days: pd.Series, start: date) -> list:
    cache: dict[int, object] = {}
    out = []
    for d in days:
        if pd.isna(d):
            out.append("")
            continue
        d = int(d)
        if d not in cache:
            cache[d] = format_date(style, start + timedelta(days=d))
        out.append(cache[d])
    return out


def _destination(style: Style, codes: pd.Series) -> pd.Series:
    provinces = ref.provinces()
    if style.destination == "zh_full":
        table = {c: p.name_zh for c, p in provinces.items()}
    elif style.destination == "zh_short":
        table = {c: ref.short_name_zh(p) for c, p in provinces.items()}
    elif style.destination == "en":
        table = {c: p.name_en for c, p in provinces.items()}
    else:
        return codes
    return codes.map(table)


def format_workers(rec: pd.DataFrame, style: Style, start: date) -> pd.DataFrame:
    """Canonical worker records (days relative to `start`) → cells as the province writes them."""
    birth_days = (rec["birth_date"] - pd.Timestamp(start)).dt.days
    mode = rec["mode"]
    if style.modes == "zh":
        mode = mode.map(MODE_ZH)
    elif style.modes == "en_alias":
        mode = mode.map(MODE_EN_ALIAS)
    frame = pd.DataFrame({
        "record_id": rec["record_id"],
        "name": rec["name"],
        "id_number": rec["id_number"],
        "sex": rec["sex"].map(SEX_ZH) if style.chinese else rec["sex"],
        "birth_date": _dates(style, birth_days, start),
        "phone": rec["phone"],
        "origin_county": rec["origin_county"],
        "destination_province": _destination(style, rec["destination_province"]),
        "destination_city": rec["destination_city"],
        "employer_uscc": rec["employer_uscc"],
        "employer_name": rec["employer_name"],
        "mode": mode,
        "trip_ref": rec["trip_ref"],
        "departure_date": _dates(style, rec["departure_day"], start),
        "arrival_date": _dates(style, rec["arrival_day"], start),
        "origin_risk": rec["origin_risk"].map(RISK_ZH).fillna("") if style.chinese else rec["origin_risk"],
    }, index=rec.index).astype(object)
    return frame


def format_enterprises(ent: pd.DataFrame, style: Style, start: date) -> pd.DataFrame:
    if style.chinese:
        key = ent["key_enterprise"].map({True: "是", False: "否"})
        channel = ent["channel"].map(CHANNEL_ZH)
    else:
        key = ent["key_enterprise"].map({True: "true", False: "false"} if style.fmt != "json" else {True: "1", False: "0"})
        channel = ent["channel"]
    return pd.DataFrame({
        "enterprise_uscc": ent["enterprise_uscc"],
        "enterprise_name": ent["enterprise_name"],
        "key_enterprise": key,
        "labour_gap": ent["labour_gap"],
        "workers_supplied": ent["workers_supplied"],
        "channel": channel,
        "status_date": _dates(style, ent["status_day"], start),
    }, index=ent.index).astype(object)


def _headers(style: Style, columns) -> list[str]:
    table = {"zh": HEADERS_ZH, "zh_alt": HEADERS_ZH_ALT}.get(style.headers)
    return [table[c] if table else c for c in columns]


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return None
    return value


def to_bytes(frame: pd.DataFrame, style: Style, kind: str) -> bytes:
    """The bytes of a data file of `kind` (workers/enterprises) for the province's style."""
    headers = _headers(style, frame.columns)
    if style.fmt == "csv":
        text = frame.set_axis(headers, axis=1).to_csv(index=False, lineterminator=style.newline)
        return text.encode(style.encoding)
    rows = frame.to_numpy().tolist()
    if style.fmt in ("json", "jsonl"):
        objects = [{h: _cell(v) for h, v in zip(headers, row)} for row in rows]
        if style.fmt == "json":
            return json.dumps(objects, ensure_ascii=False, indent=1).encode("utf-8")
        return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects).encode("utf-8")
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": datetime(2020, 1, 1)})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet(kind)
    sheet.write_row(0, 0, headers)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            value = _cell(value)
            if value is None:
                continue
            if isinstance(value, date):
                sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), date_format)
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    book.close()
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_package(path: Path, entries: list[tuple[str, bytes]], zipped: bool) -> None:
    """Write a package as a directory or as `<path>.zip` holding the same entries."""
    if zipped:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path.with_name(path.name + ".zip"), "w") as archive:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        return
    path.mkdir(parents=True, exist_ok=True)
    for name, data in entries:
        (path / name).write_bytes(data)
