"""Build submission packages on the fly (SPEC §2) for tests of every room.

    pkg = PackageBuilder(tmp_path / "landing")
    pkg.add("workers", "workers.csv", csv_bytes(WORKER_HEADERS, [worker_row()]))
    path = pkg.write()                      # or pkg.write(as_zip=True)

Each file's sha256 and row count go into the manifest unless overridden.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from stdnum.cn import uscc

WORKER_HEADERS = [
    "record_id", "name", "id_number", "sex", "birth_date", "phone", "origin_county",
    "destination_province", "destination_city", "employer_uscc", "employer_name", "mode",
    "trip_ref", "departure_date", "arrival_date", "origin_risk",
]
ENTERPRISE_HEADERS = [
    "enterprise_uscc", "enterprise_name", "key_enterprise", "labour_gap", "workers_supplied",
    "channel", "status_date",
]
VALID_ID = "360426199101010071"


def make_uscc(region: str = "440300", serial: str = "MA5ABC12") -> str:
    """A valid GB 32100 code: 9 (enterprise) 1 (company), region, org code, check."""
    base = f"91{region}{serial}"[:16]
    base = base + "0" * (17 - len(base))
    return base + uscc.calc_check_digit(base)


def worker_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "record_id": "W1", "name": "张三", "id_number": VALID_ID, "sex": "男",
        "birth_date": "1991-01-01", "phone": "13800138000", "origin_county": "360426",
        "destination_province": "44", "destination_city": "深圳",
        "employer_uscc": make_uscc(), "employer_name": "某电子厂", "mode": "包车",
        "trip_ref": "K1234", "departure_date": "2020-02-28", "arrival_date": "2020-03-01",
        "origin_risk": "低",
    }
    row.update(overrides)
    return row


def enterprise_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "enterprise_uscc": make_uscc(), "enterprise_name": "某电子厂", "key_enterprise": "是",
        "labour_gap": "100", "workers_supplied": "80", "channel": "协助返岗",
        "status_date": "2020-03-01",
    }
    row.update(overrides)
    return row


def csv_bytes(headers: list[str], rows: list[dict[str, Any]] | list[list[Any]],
              encoding: str = "utf-8", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers] if isinstance(row, dict) else row)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(headers: list[str], rows: list[list[Any]], sheet: str = "workers",
               extra_sheets: tuple[str, ...] = ()) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for name in extra_sheets:  # sheets before the data sheet
        workbook.create_sheet(name, 0).append(["ignored"])
    worksheet = workbook.active if not extra_sheets else workbook.create_sheet(sheet)
    worksheet.title = sheet
    worksheet.append(headers)
    for row in rows:
        worksheet.append(row)
    if extra_sheets and "Sheet" in workbook.sheetnames:
        del workbook["Sheet"]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def json_bytes(records: list[Any]) -> bytes:
    return json.dumps(records, ensure_ascii=False).encode("utf-8")


def jsonl_bytes(records: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


@dataclass
class FileSpec:
    kind: str
    name: str
    data: bytes
    rows: int | None = None
    sha256: str | None = None
    listed: bool = True     # in the manifest
    present: bool = True    # written into the package


def count_rows(data: bytes, name: str) -> int:
    """Data rows of a test file, computed independently of the readers."""
    if name.endswith(".jsonl"):
        return sum(1 for line in data.decode("utf-8").splitlines() if line.strip())
    if name.endswith(".json"):
        return len(json.loads(data))
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data)).active
        return sum(1 for _ in sheet.iter_rows()) - 1
    text = data.decode("utf-8-sig") if not _is_gb(data) else data.decode("gb18030")
    return sum(1 for row in csv.reader(io.StringIO(text)) if row) - 1


def _is_gb(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


@dataclass
class PackageBuilder:
    landing: Path
    province: str = "44"
    report_date: date = date(2020, 3, 1)
    version: int = 1
    files: list[FileSpec] = field(default_factory=list)
    manifest_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.province}_{self.report_date:%Y%m%d}_v{self.version}"

    def add(self, kind: str, name: str, data: bytes, **options: Any) -> PackageBuilder:
        self.files.append(FileSpec(kind, name, data, **options))
        return self

    def manifest(self) -> dict[str, Any]:
        manifest = {
            "province": self.province,
            "report_date": self.report_date.isoformat(),
            "version": self.version,
            "submitted_at": f"{self.report_date.isoformat()}T18:02:11+08:00",
            "files": [
                {"kind": f.kind, "name": f.name,
                 "rows": f.rows if f.rows is not None else count_rows(f.data, f.name),
                 "sha256": f.sha256 or hashlib.sha256(f.data).hexdigest()}
                for f in self.files if f.listed
            ],
        }
        manifest.update(self.manifest_overrides)
        return manifest

    def contents(self) -> dict[str, bytes]:
        """Relative name → bytes of everything in the package."""
        contents = {"manifest.json": json.dumps(self.manifest(), ensure_ascii=False).encode()}
        contents.update({f.name: f.data for f in self.files if f.present})
        return contents

    def write(self, as_zip: bool = False, top_folder: bool = False,
              contents: dict[str, bytes] | None = None) -> Path:
        contents = self.contents() if contents is None else contents
        folder = self.landing / self.province
        folder.mkdir(parents=True, exist_ok=True)
        if as_zip:
            path = folder / f"{self.name}.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, data in contents.items():
                    archive.writestr(f"{self.name}/{name}" if top_folder else name, data)
            return path
        path = folder / self.name
        path.mkdir()
        for name, data in contents.items():
            (path / name).write_bytes(data)
        return path
