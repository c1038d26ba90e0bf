"""Refreeze the back test: run the frozen inputs through the pipeline and write the
published tables to tests/backtests/expected/*.csv, after checking them against the
generator's truth. Review `git diff tests/backtests/expected` and commit it as one change.

    .venv/bin/python -m tests.backtests.refreeze            # expected tables only
    .venv/bin/python -m tests.backtests.refreeze --inputs   # regenerate the inputs too

`--inputs` regenerates tests/backtests/inputs/ with `returnstats.sample.generate` (the
arguments in backtest_run.GENERATE) and a shrunken enterprise register, so the committed
set stays under 300 KB. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "plugins")]

import backtest_run as bt  # noqa: E402


def regenerate_inputs() -> None:
    from returnstats.sample import generate, model

    model.KEY_ENTERPRISES_PER_PROVINCE = bt.KEY_ENTERPRISES_PER_PROVINCE
    model.OTHER_ENTERPRISES_PER_PROVINCE = bt.OTHER_ENTERPRISES_PER_PROVINCE
    with tempfile.TemporaryDirectory() as scratch:
        sample = Path(scratch) / "sample"
        generate(out=sample, **bt.GENERATE)
        shutil.rmtree(bt.INPUTS, ignore_errors=True)
        shutil.copytree(sample / "arrivals", bt.INPUTS / "arrivals", symlinks=True)
        (bt.INPUTS / "truth").mkdir()
        for name in bt.TRUTH_FILES:
            shutil.copy2(sample / "truth" / name, bt.INPUTS / "truth" / name)


def refreeze() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = bt.run_pipeline(Path(scratch))
        tables = {name: bt.published(settings.warehouse, name) for name in bt.FROZEN_TABLES}
    problems = bt.truth_differences(tables["national_summary"])
    if problems:
        raise SystemExit("not frozen: the published figures differ from the generator's "
                         "truth:\n  " + "\n  ".join(problems))
    bt.EXPECTED.mkdir(exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(bt.EXPECTED / f"{name}.csv", index=False, lineterminator="\n")
        print(f"froze {name}: {len(frame)} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", action="store_true", help="regenerate the inputs first")
    args = parser.parse_args()
    if args.inputs:
        regenerate_inputs()
    refreeze()


if __name__ == "__main__":
    main()
