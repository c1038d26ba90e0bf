"""Reader-facing names (zh, en) of the national figures, the validation rules and the
report checks.

The rule and check ids are the stable ids of docs/rules.md; the bulletin's annex shows the
plain-language name with the id in brackets, so a statistician can look the rule up. An id
without a name here is shown as the id alone. Ids never appear in the release section.
"""

from __future__ import annotations

# national_summary columns, in the table's order (SPEC §6).
FIGURE_LABELS: dict[str, tuple[str, str]] = {
    "returns_new": ("新增返岗人数", "new returns"),
    "returns_cumulative": ("累计返岗人数", "cumulative returns"),
    "returns_cumulative_special_train": ("专列累计返岗人数", "cumulative returns by special train"),
    "returns_cumulative_chartered_bus": ("包车累计返岗人数", "cumulative returns by chartered bus"),
    "returns_cumulative_train_carriage": ("专用车厢累计返岗人数",
                                          "cumulative returns by reserved carriage"),
    "returns_cumulative_charter_flight": ("包机累计返岗人数", "cumulative returns by charter flight"),
    "cross_province_new": ("新增跨省返岗人数", "new cross-province returns"),
    "cross_province_cumulative": ("累计跨省返岗人数", "cumulative cross-province returns"),
    "key_enterprises_resolved_cumulative": ("已解决用工需求的重点企业数",
                                            "key enterprises with needs met"),
    "provinces_reporting": ("报送省份数", "provinces reporting"),
}

RULE_LABELS: dict[str, tuple[str, str]] = {
    # package level: the package is returned to the province
    "package.manifest.missing": ("缺少清单文件", "no manifest"),
    "package.manifest.invalid": ("清单文件格式错误", "invalid manifest"),
    "package.name_mismatch": ("清单与文件包名称不符", "manifest does not match the package name"),
    "package.file.missing": ("清单所列文件缺失", "a listed file is missing"),
    "package.file.checksum": ("文件校验值与清单不符", "file checksum differs from the manifest"),
    "package.file.row_count": ("文件行数与清单不符", "row count differs from the manifest"),
    "package.file.encoding": ("文件编码无法识别", "unreadable text encoding"),
    "package.file.unparseable": ("文件无法解析", "file cannot be parsed"),
    "package.file.nul_bytes": ("文件含非法字符", "file contains NUL bytes"),
    "package.file.field_too_long": ("字段超长", "field too long"),
    "package.file.duplicate_column": ("列名重复", "duplicate column"),
    "package.file.missing_column": ("缺少必填列", "required column missing"),
    "package.file.json_too_deep": ("JSON嵌套过深", "JSON nested too deep"),
    "package.file.too_many_columns": ("列数超过上限", "too many columns"),
    "package.file.sparse_range": ("表格范围异常稀疏", "sparse spreadsheet range"),
    "package.file.text_too_large": ("表格文本膨胀过大", "spreadsheet text expands too much"),
    "package.file.not_regular": ("包含非普通文件", "not a regular file"),
    "package.file.resource_limit": ("读取超出资源限制", "reader stopped at its resource limits"),
    "package.zip.unsafe_path": ("压缩包含不安全路径", "unsafe path in the zip"),
    "package.zip.duplicate_entry": ("压缩包含重复条目", "duplicate zip entry"),
    "package.zip.symlink": ("压缩包含符号链接", "symlink in the zip"),
    "package.zip.too_many_entries": ("压缩包条目过多", "too many zip entries"),
    "package.zip.too_large": ("压缩包过大", "zip too large"),
    "package.symlink": ("报送目录为符号链接", "symlink in the landing zone"),
    "package.version.conflict": ("同一版本内容不一致", "same version with different content"),
    # record level, errors: the record is quarantined
    "worker.record_id.missing": ("缺少记录编号", "record id missing"),
    "worker.name.missing": ("缺少姓名", "name missing"),
    "worker.origin_county.missing": ("缺少输出地县级代码", "origin county missing"),
    "worker.destination_province.missing": ("缺少输入地省份", "destination province missing"),
    "worker.mode.missing": ("缺少返岗方式", "mode missing"),
    "worker.arrival_date.missing": ("缺少到岗日期", "arrival date missing"),
    "worker.mode.unknown": ("返岗方式无法识别", "unknown mode"),
    "worker.arrival_date.unparseable": ("到岗日期格式错误", "arrival date not a date"),
    "worker.arrival_date.after_report": ("到岗日期晚于报送日期", "arrival after the report date"),
    "worker.arrival_date.before_campaign": ("到岗日期早于活动开始",
                                            "arrival before the campaign start"),
    "worker.destination_province.unknown": ("输入地省份无法识别", "unknown destination province"),
    "worker.origin_county.not_county": ("输出地县级代码无效", "origin not a county code"),
    "worker.record_id.duplicate": ("记录编号重复", "duplicate record id"),
    "worker.record_id.personal": ("记录编号含个人信息", "record id is personal data"),
    "enterprise.enterprise_uscc.missing": ("缺少统一社会信用代码", "USCC missing"),
    "enterprise.enterprise_name.missing": ("缺少企业名称", "enterprise name missing"),
    "enterprise.key_enterprise.missing": ("缺少重点企业标识", "key-enterprise flag missing"),
    "enterprise.labour_gap.missing": ("缺少用工缺口", "labour gap missing"),
    "enterprise.workers_supplied.missing": ("缺少已输送人数", "workers supplied missing"),
    "enterprise.status_date.missing": ("缺少状态日期", "status date missing"),
    "enterprise.key_enterprise.invalid": ("重点企业标识无效", "invalid key-enterprise flag"),
    "enterprise.labour_gap.invalid": ("用工缺口数值无效", "invalid labour gap"),
    "enterprise.workers_supplied.invalid": ("已输送人数数值无效", "invalid workers supplied"),
    "enterprise.status_date.unparseable": ("状态日期格式错误", "status date not a date"),
    "enterprise.status_date.after_report": ("状态日期晚于报送日期",
                                            "status date after the report date"),
}

# SPEC §3.3 report checks (`report_checks.check`).
CHECK_LABELS: dict[str, tuple[str, str]] = {
    "report.declared_totals.mismatch": ("申报合计与记录不符", "declared totals differ from the records"),
    "report.package.late": ("迟报", "late package"),
    "report.province.missing": ("未报送", "province did not report"),
}


def rule_id(reason: str | None) -> str:
    """The rule id of a ledger reason ("<rule id>: <detail>")."""
    return (reason or "").split(":", 1)[0].strip()


def _labelled(names: tuple[str, str] | None, identifier: str, lang: str) -> str:
    if names is None:
        return identifier
    return f"{names[0]}（{identifier}）" if lang == "zh" else f"{names[1]} ({identifier})"


def rule_label(rule: str, lang: str) -> str:
    """"<name>（<id>）" / "<name> (<id>)", or the id alone when it has no name."""
    return _labelled(RULE_LABELS.get(rule), rule, lang)


def check_label(check: str, lang: str) -> str:
    """A report check's name and id, as `rule_label`."""
    return _labelled(CHECK_LABELS.get(check), check, lang)
