from __future__ import annotations

import os
from datetime import date

from returnstats.reports.landing import scan_landing

from tests.builders import PackageBuilder


def _empty_package(landing, province="44", day=date(2020, 3, 1), version=1, as_zip=False):
    return PackageBuilder(landing, province, day, version).write(as_zip=as_zip)


def test_packages_are_found_sorted_and_filtered_by_as_of(landing):
    _empty_package(landing, "44", date(2020, 3, 2), 1)
    _empty_package(landing, "44", date(2020, 3, 1), 2, as_zip=True)
    _empty_package(landing, "44", date(2020, 3, 1), 1)
    _empty_package(landing, "11", date(2020, 3, 3), 1)
    scan = scan_landing(landing)
    assert [p.name for p in scan.packages] == [
        "11_20200303_v1", "44_20200301_v1", "44_20200301_v2", "44_20200302_v1"]
    assert [p.is_zip for p in scan.packages] == [False, False, True, False]
    assert scan.packages[2].path.name == "44_20200301_v2.zip"
    assert scan.packages[1].report_date == date(2020, 3, 1) and scan.packages[1].version == 1

    as_of = scan_landing(landing, as_of=date(2020, 3, 1))
    assert [p.name for p in as_of.packages] == ["44_20200301_v1", "44_20200301_v2"]
    only_11 = scan_landing(landing, province="11")
    assert [p.name for p in only_11.packages] == ["11_20200303_v1"]


def test_stray_entries_are_ignored_and_reported(landing):
    _empty_package(landing)
    (landing / "README.txt").write_text("hello")
    (landing / "99").mkdir()
    (landing / "44" / "notes.docx").write_text("x")
    (landing / "44" / "44_20200231_v1").mkdir()          # no such date
    (landing / "44" / "44_20200301_v0").mkdir()          # versions start at 1
    (landing / "44" / "11_20200301_v1").mkdir()          # another province's package
    (landing / "44" / "44_20200302_v1").write_text("x")  # a file without .zip
    scan = scan_landing(landing)
    assert [p.name for p in scan.packages] == ["44_20200301_v1"]
    ignored = {i.path: i.reason for i in scan.ignored}
    assert ignored["README.txt"] == "not a province folder"
    assert ignored["99"] == "not a province code"
    assert ignored["44/notes.docx"] == "not a package name"
    assert ignored["44/44_20200231_v1"] == "not a package name"
    assert ignored["44/44_20200301_v0"] == "not a package name"
    assert "44/11_20200301_v1" in ignored
    assert "44/44_20200302_v1" in ignored
    assert not scan.rejected


def test_symlinked_package_is_rejected_and_not_followed(landing, tmp_path):
    real = _empty_package(tmp_path / "elsewhere")
    (landing / "44").mkdir()
    os.symlink(real, landing / "44" / "44_20200301_v1")
    os.symlink(tmp_path / "nowhere.zip", landing / "44" / "44_20200302_v1.zip")
    scan = scan_landing(landing)
    assert scan.packages == []
    assert [(r.name, r.reason) for r in scan.rejected] == [
        ("44_20200301_v1", "package.symlink"), ("44_20200302_v1", "package.symlink")]


def test_symlinked_province_folder_is_rejected_for_the_day_and_not_followed(landing, tmp_path):
    real = tmp_path / "elsewhere"
    _empty_package(real)
    os.symlink(real / "44", landing / "44")
    scan = scan_landing(landing, as_of=date(2020, 3, 1))
    assert scan.packages == [] and scan.ignored == []
    assert [(r.name, r.province, r.report_date, r.version, r.reason) for r in scan.rejected] == [
        ("44_20200301_symlinked-folder", "44", date(2020, 3, 1), 0, "package.symlink")]
    # Without an as-of date (no day to record it for) it is only reported.
    assert [(i.path, i.reason) for i in scan_landing(landing).ignored] == [("44", "package.symlink")]


def test_same_name_as_directory_and_zip_is_rejected(landing):
    _empty_package(landing)
    _empty_package(landing, as_zip=True)
    scan = scan_landing(landing)
    assert scan.packages == []
    assert [r.reason for r in scan.rejected] == ["package.version.conflict"]


def test_missing_landing_is_an_empty_scan(tmp_path):
    scan = scan_landing(tmp_path / "absent")
    assert (scan.packages, scan.rejected, scan.ignored) == ([], [], [])
