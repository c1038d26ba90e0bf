"""Each file format of SPEC §2.2 read into the same raw table."""

from __future__ import annotations

import datetime as dt

from tests.builders import (
    ENTERPRISE_HEADERS,
    WORKER_HEADERS,
    PackageBuilder,
    csv_bytes,
    enterprise_row,
    json_bytes,
    jsonl_bytes,
    worker_row,
    xlsx_bytes,
)
from tests.reports.conftest import read_only_package

CHINESE_FULLWIDTH_HEADERS = [
    " 记录号 ", "姓名", "公民身份号码", "性别", "出生日期", "手机号", "户籍地区县代码",
    "务工省份", "务工城市", "用工单位统一社会信用代码", "用工单位", "返岗方式", "班次",
    "出发日期", "抵达日期", "出发地风险等级",
]


def test_gb18030_csv_with_chinese_headers_is_read(landing):
    rows = [list(worker_row(record_id="序1", name="欧阳·娜娜").values())]
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv", csv_bytes(CHINESE_FULLWIDTH_HEADERS, rows, encoding="gb18030"))
    pkg.write()
    table = read_only_package(landing).files["workers"].table
    assert table.loc[0, "record_id"] == "序1"
    assert table.loc[0, "name"] == "欧阳·娜娜"
    assert table.loc[0, "arrival_date"] == "2020-03-01"
    assert set(WORKER_HEADERS) <= set(table.columns)


def test_fullwidth_and_cased_english_headers_are_canonical(landing):
    headers = ["ＲＥＣＯＲＤ＿ＩＤ", "Name", "Origin County", "destination-province", " MODE ",
               "Arrival_Date"]
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv",
            csv_bytes(headers, [["W1", "张三", "360426", "广东", "bus", "2020-03-01"]]))
    pkg.write()
    table = read_only_package(landing).files["workers"].table
    assert list(table.columns) == ["record_id", "name", "origin_county", "destination_province",
                                   "mode", "arrival_date", "row_number"]


def test_utf8_csv_with_bom_is_read(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, [worker_row()], bom=True))
    pkg.write()
    assert read_only_package(landing).files["workers"].table.loc[0, "record_id"] == "W1"


def test_header_only_file_is_valid_with_zero_rows(landing):
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, []))
    pkg.add("enterprises", "enterprises.json", json_bytes([]))
    pkg.write()
    package = read_only_package(landing)
    workers = package.files["workers"]
    assert workers.rows_received == 0 and len(workers.table) == 0
    assert "record_id" in workers.table.columns and "row_number" in workers.table.columns
    assert package.files["enterprises"].rows_received == 0


def test_short_csv_rows_are_padded_and_blank_lines_skipped(landing):
    data = ("record_id,name,origin_county,destination_province,mode,arrival_date\n"
            "W1,张三\n\n"
            "W2,李四,360426,44,专列,2020-03-01\n").encode()
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv", data, rows=2)
    pkg.write()
    table = read_only_package(landing).files["workers"].table
    assert table["record_id"].tolist() == ["W1", "W2"]
    assert table.loc[0, "mode"] is None
    assert table["row_number"].tolist() == [1, 2]


def test_xlsx_with_date_cell_and_float_id_is_read_without_inventing_digits(landing):
    headers = ["record_id", "name", "id_number", "origin_county", "destination_province",
               "mode", "arrival_date", "birth_date", "phone"]
    rows = [
        [1, "张三", 4.10102199001011e17, 360426, "44", "包车", dt.date(2020, 3, 1),
         dt.datetime(1991, 1, 1, 0, 0), 13800138000],
        [2.0, "李四", "410102199001011234", "360426", "广东", "专列", "2020/3/2", None, None],
    ]
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.xlsx", xlsx_bytes(headers, rows), rows=2)
    pkg.write()
    table = read_only_package(landing).files["workers"].table
    assert table["record_id"].tolist() == ["1", "2"]
    assert table.loc[0, "arrival_date"] == "2020-03-01"
    assert table.loc[0, "birth_date"].startswith("1991-01-01")
    assert table.loc[0, "origin_county"] == "360426"
    assert table.loc[0, "phone"] == "13800138000"
    lost = table.loc[0, "id_number"]
    assert lost != "410102199001011000" and not lost.isdigit()   # stays recognisably broken
    assert table.loc[1, "id_number"] == "410102199001011234"
    assert table.loc[1, "birth_date"] is None


def test_xlsx_uses_the_sheet_named_like_the_kind(landing):
    data = xlsx_bytes(ENTERPRISE_HEADERS, [list(enterprise_row().values())],
                      sheet="enterprises", extra_sheets=("说明",))
    pkg = PackageBuilder(landing)
    pkg.add("enterprises", "enterprises.xlsx", data, rows=1)
    pkg.write()
    table = read_only_package(landing).files["enterprises"].table
    assert table.loc[0, "labour_gap"] == "100"


def test_json_lines_are_read_with_line_numbers(landing):
    records = [worker_row(), worker_row(record_id="W2", phone=None, sex=1)]
    data = jsonl_bytes(records[:1]) + b"\n" + jsonl_bytes(records[1:])
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.jsonl", data, rows=2)
    pkg.write()
    table = read_only_package(landing).files["workers"].table
    assert table["row_number"].tolist() == [1, 3]
    assert table.loc[1, "phone"] is None
    assert table.loc[1, "sex"] == "1"


def test_json_array_keeps_numbers_as_written(landing):
    records = [{**worker_row(), "id_number": 4.10102e17, "record_id": 7}]
    data = b'[{"record_id": 7, "name": "x", "id_number": 4.10102E+17, "origin_county": 360426,' \
           b' "destination_province": "44", "mode": "bus", "arrival_date": "2020-03-01",' \
           b' "extra": {"a": [1]}}]'
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.json", data, rows=len(records))
    pkg.write()
    workers = read_only_package(landing).files["workers"]
    assert workers.table.loc[0, "id_number"] == "4.10102E+17"
    assert workers.table.loc[0, "record_id"] == "7"
    assert workers.extra_columns == ["extra"]
