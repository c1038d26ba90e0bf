"""Grouping records into persons under the SPEC §4 constraint: a person never holds two
different valid ID numbers.

Same valid ID → one person (deterministic). Probabilistic edges are then taken by
descending match probability in a union-find; an edge is skipped when it would join two
components holding different valid IDs, or when it would be a second join for both of its
records (a record without an ID joins at most the best component it matches: it may not
bridge two persons that were already formed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


class _Components:
    def __init__(self, id_numbers: Sequence[str | None]):
        self.parent = np.arange(len(id_numbers))
        self.id_number: dict[int, str] = {
            i: value for i, value in enumerate(id_numbers) if isinstance(value, str)
        }

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def compatible(self, a: int, b: int) -> bool:
        id_a, id_b = self.id_number.get(a), self.id_number.get(b)
        return id_a is None or id_b is None or id_a == id_b

    def union(self, a: int, b: int) -> None:
        # The smaller index (the earlier record) stays root: labels are founding records.
        keep, drop = (a, b) if a < b else (b, a)
        self.parent[drop] = keep
        if drop in self.id_number:
            self.id_number.setdefault(keep, self.id_number.pop(drop))


def cluster_records(id_numbers: Sequence[str | None], edges: pd.DataFrame) -> np.ndarray:
    """Person label (index of the person's earliest record) for each record.

    `id_numbers[i]` is record i's valid ID or None; records are indexed in founding order
    (report_date, package, row_number). `edges` has `rid_l`, `rid_r`, `match_probability`:
    the accepted probabilistic pairs.
    """
    components = _Components(id_numbers)
    first_with_id: dict[str, int] = {}
    for i, value in enumerate(id_numbers):
        if isinstance(value, str):
            if value in first_with_id:
                a, b = components.find(first_with_id[value]), components.find(i)
                if a != b:
                    components.union(a, b)
            else:
                first_with_id[value] = i

    attached = np.zeros(len(id_numbers), dtype=bool)
    ordered = edges.sort_values(
        ["match_probability", "rid_l", "rid_r"], ascending=[False, True, True], kind="mergesort"
    )
    for left, right in zip(ordered["rid_l"].to_numpy(), ordered["rid_r"].to_numpy(), strict=True):
        left, right = int(left), int(right)
        a, b = components.find(left), components.find(right)
        if a == b or not components.compatible(a, b):
            continue
        if attached[left] and attached[right]:
            continue
        components.union(a, b)
        attached[left] = attached[right] = True

    return np.fromiter((components.find(i) for i in range(len(id_numbers))), dtype=np.int64,
                       count=len(id_numbers))
