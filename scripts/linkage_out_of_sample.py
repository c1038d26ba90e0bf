"""Out-of-sample linkage quality (docs/linkage.md, "Out of sample"): link the independent
generator's records (tests/linkage/independent_generator.py) with a stored model and
measure them against its truth, over a grid of missing-ID shares and mangling rates and
along the match threshold. Writes the table of measured points and the trade-off curve
drawn from it:

    PYTHONPATH=plugins python scripts/linkage_out_of_sample.py [--persons 10000]
        [--model include/linkage/model.json] [--compare PATH ...]

    docs/linkage-out-of-sample.csv       every measured point
    docs/images/linkage-tradeoff.png     precision against recall along the threshold

--compare adds other model files (e.g. one trained with --supervised) at the shipped
threshold, for the table only. Nothing here trains: the models never saw these records.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "linkage"))

import out_of_sample  # noqa: E402
from returnstats.linkage import model as linkage_model  # noqa: E402

TABLE = ROOT / "docs" / "linkage-out-of-sample.csv"
CURVE = ROOT / "docs" / "images" / "linkage-tradeoff.png"
MISSING = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
MANGLE = (0.0, 0.5, 1.0)
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999)
CURVE_MISSING = (0.3, 0.6)
SEEDS = (101, 102)
FIELDS = ["kind", "model", "threshold", "missing_id", "mangle", "seed", "records", "true_pairs",
          "mangled_pairs", "precision", "recall", "mangled_recall", "seconds"]


def _point(kind: str, model: Path, threshold: float, missing: float, mangle: float,
           seed: int, persons: int) -> dict:
    linkage_model.MATCH_THRESHOLD = threshold  # the one constant a run reads
    began = time.perf_counter()
    q = out_of_sample.measure(persons, missing_id=missing, mangle=mangle, seed=seed,
                              model_path=model)
    row = {"kind": kind, "model": model.name, "threshold": threshold, "missing_id": missing,
           "mangle": mangle, "seed": seed, "records": q.records, "true_pairs": q.true_pairs,
           "mangled_pairs": q.mangled_pairs, "precision": round(q.precision, 6),
           "recall": round(q.recall, 6), "mangled_recall": round(q.mangled_recall, 6),
           "seconds": round(time.perf_counter() - began, 1)}
    print(",".join(str(row[f]) for f in FIELDS), flush=True)
    return row


def draw(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    for missing in CURVE_MISSING:
        points = sorted((r for r in rows if r["kind"] == "curve" and r["missing_id"] == missing),
                        key=lambda r: r["threshold"])
        axis.plot([p["recall"] for p in points], [p["precision"] for p in points], marker="o",
                  label=f"{missing:.0%} of IDs missing")
        for p in points:
            axis.annotate(f"{p['threshold']:g}", (p["recall"], p["precision"]), fontsize=7,
                          textcoords="offset points", xytext=(4, -10))
    axis.axhline(0.9995, color="grey", linestyle="--", linewidth=0.8)
    axis.text(axis.get_xlim()[0], 0.9995, " precision target 0.9995", fontsize=7, va="bottom")
    axis.set_xlabel("pairwise recall")
    axis.set_ylabel("pairwise precision")
    axis.set_title("Linkage on the independent generator: precision against recall\n"
                   "along the match threshold (labels), half of spreadsheet IDs mangled",
                   fontsize=9)
    axis.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def _pooled(rows: list[dict]) -> dict:
    """Pairs summed over seeds: precision and recall of the pooled pairs."""
    true = sum(r["true_pairs"] for r in rows)
    found_true = sum(r["recall"] * r["true_pairs"] for r in rows)
    found = sum(r["recall"] * r["true_pairs"] / r["precision"] for r in rows if r["precision"])
    mangled = sum(r["mangled_pairs"] for r in rows)
    mangled_found = sum(r["mangled_recall"] * r["mangled_pairs"] for r in rows)
    return {**rows[0], "true_pairs": true, "records": sum(r["records"] for r in rows),
            "mangled_pairs": mangled, "precision": found_true / found if found else 1.0,
            "recall": found_true / true, "mangled_recall": mangled_found / mangled if mangled else 1.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--model", type=Path, default=linkage_model.MODEL_PATH)
    parser.add_argument("--compare", type=Path, nargs="*", default=[])
    args = parser.parse_args(argv)
    logging.getLogger("returnstats").setLevel(logging.WARNING)
    shipped = linkage_model.MATCH_THRESHOLD
    print(",".join(FIELDS))
    rows = []
    for missing in CURVE_MISSING:
        for threshold in THRESHOLDS:
            for seed in SEEDS:
                rows.append(_point("curve", args.model, threshold, missing, 0.5, seed, args.persons))
    for missing in MISSING:
        for mangle in MANGLE:
            for seed in SEEDS:
                rows.append(_point("grid", args.model, shipped, missing, mangle, seed, args.persons))
    for model in args.compare:
        for seed in SEEDS:
            rows.append(_point("compare", model, shipped, 0.3, 0.5, seed, args.persons))
    pooled: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["kind"], row["model"], row["threshold"], row["missing_id"], row["mangle"])
        pooled.setdefault(key, []).append(row)
    table = [{**_pooled(group), "seed": "+".join(str(r["seed"]) for r in group),
              "seconds": round(sum(r["seconds"] for r in group), 1)} for group in pooled.values()]
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    with open(TABLE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for row in table:
            writer.writerow({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()})
    draw(table, CURVE)
    print(f"wrote {TABLE.relative_to(ROOT)} and {CURVE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
