"""The floor: what touching the day's data once costs — DuckDB reading the same CSV files
(every column as text) and writing them as Parquet. The pipeline is measured against it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any


def touch_once(landing: Path, out: Path) -> dict[str, Any]:
    """Read every `workers.csv` and `enterprises.csv` under `landing` with
    `read_csv_auto(all_varchar)` and `COPY` each kind to one Parquet file in `out`."""
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result: dict[str, Any] = {"rows": {}}
    began = time.perf_counter()
    con = duckdb.connect()
    try:
        for kind in ("workers", "enterprises"):
            files = sorted(str(p) for p in Path(landing).glob(f"*/*/{kind}.csv"))
            target = out / f"{kind}.parquet"
            con.execute(
                "COPY (SELECT * FROM read_csv_auto($files, all_varchar = true, header = true, "
                "union_by_name = true)) TO '" + str(target).replace("'", "''") + "' (FORMAT parquet)",
                {"files": files},
            )
            result["rows"][kind] = con.execute(
                "SELECT count(*) FROM read_parquet($p)", {"p": str(target)}).fetchone()[0]
    finally:
        con.close()
    result["seconds"] = time.perf_counter() - began
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from returnstats.bench.day import peak_rss_mib

    parser = argparse.ArgumentParser(prog="python -m returnstats.bench.floor", description=__doc__)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = touch_once(args.landing, args.out)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
