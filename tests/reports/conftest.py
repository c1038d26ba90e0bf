from __future__ import annotations

import pytest
from returnstats.config import Limits
from returnstats.reports.landing import scan_landing
from returnstats.reports.package import Package, read_package

from tests.builders import (
    ENTERPRISE_HEADERS,
    WORKER_HEADERS,
    PackageBuilder,
    csv_bytes,
    enterprise_row,
    worker_row,
)


@pytest.fixture
def landing(tmp_path):
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def builder(landing):
    """A package with one valid workers CSV and one valid enterprises CSV."""
    pkg = PackageBuilder(landing)
    pkg.add("workers", "workers.csv",
            csv_bytes(WORKER_HEADERS, [worker_row(), worker_row(record_id="W2")]))
    pkg.add("enterprises", "enterprises.csv", csv_bytes(ENTERPRISE_HEADERS, [enterprise_row()]))
    return pkg


def read_only_package(landing, limits: Limits | None = None) -> Package:
    """Scan `landing`, expect exactly one package, read it."""
    scan = scan_landing(landing)
    assert len(scan.packages) == 1, scan
    return read_package(scan.packages[0], limits or Limits())
