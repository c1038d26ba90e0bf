"""Column names of the data files (SPEC §2.2): canonical names, Chinese aliases, required sets.

The one place where a header as a province writes it is mapped to a canonical name.
"""

from __future__ import annotations

import re
import unicodedata

WORKER_COLUMNS: dict[str, tuple[str, ...]] = {
    "record_id": ("记录号", "序号"),
    "name": ("姓名",),
    "id_number": ("身份证号", "身份证号码", "公民身份号码"),
    "sex": ("性别",),
    "birth_date": ("出生日期",),
    "phone": ("手机号", "联系电话"),
    "origin_county": ("户籍地区县代码", "输出地区县代码"),
    "destination_province": ("务工省份", "输入省份"),
    "destination_city": ("务工城市",),
    "employer_uscc": ("用工单位统一社会信用代码",),
    "employer_name": ("用工单位",),
    "mode": ("返岗方式", "交通方式"),
    "trip_ref": ("车次航班号", "班次"),
    "departure_date": ("出发日期",),
    "arrival_date": ("到岗日期", "抵达日期"),
    "origin_risk": ("出发地风险等级",),
}
WORKER_REQUIRED = (
    "record_id", "name", "origin_county", "destination_province", "mode", "arrival_date",
)

ENTERPRISE_COLUMNS: dict[str, tuple[str, ...]] = {
    "enterprise_uscc": ("统一社会信用代码",),
    "enterprise_name": ("企业名称",),
    "key_enterprise": ("是否重点企业",),
    "labour_gap": ("用工缺口",),
    "workers_supplied": ("已解决用工",),
    "channel": ("解决渠道",),
    "status_date": ("统计日期",),
}
ENTERPRISE_REQUIRED = (
    "enterprise_uscc", "enterprise_name", "key_enterprise", "labour_gap",
    "workers_supplied", "status_date",
)

COLUMNS = {"workers": WORKER_COLUMNS, "enterprises": ENTERPRISE_COLUMNS}
REQUIRED = {"workers": WORKER_REQUIRED, "enterprises": ENTERPRISE_REQUIRED}
KINDS = tuple(COLUMNS)

# Spaces, underscores and hyphens carry no meaning in a header: "Record ID" is record_id.
_HEADER_NOISE = re.compile(r"[\s_\-]+")


def fold_header(header: object) -> str:
    """A header as compared: NFKC (full-width → half-width), no spaces, lower-case."""
    text = unicodedata.normalize("NFKC", "" if header is None else str(header))
    return _HEADER_NOISE.sub("", text).lower()


def _lookup(columns: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {fold_header(alias): canonical
            for canonical, aliases in columns.items()
            for alias in (canonical, *aliases)}


_LOOKUP = {kind: _lookup(columns) for kind, columns in COLUMNS.items()}


def canonical_column(kind: str, header: object) -> str | None:
    """The canonical name a header stands for in a file of `kind`, or None if unknown."""
    return _LOOKUP[kind].get(fold_header(header))
