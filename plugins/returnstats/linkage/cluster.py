"""Grouping records into persons under the SPEC §4 constraint: a person never holds two
different valid ID numbers.

Same valid ID → one person (deterministic). Probabilistic edges are then taken by
descending match probability in a union-find; an edge is skipped when it would join two
components holding different valid IDs, or when it would be a second join for both of its
records (a record without an ID joins at most the best component it matches: it may not
bridge two persons that were already formed).

A reviewer's labels (review.py) come first: a match joins its two records' components
before any edge (never two valid IDs), a non-match forbids any join that would put its two
records in one person.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def extend_clusters(
    new_rids: Sequence[int],
    new_ids: Sequence[str | None],
    known_roots: dict[int, str | None],
    known_members: dict[int, int],
    known_attached: set[int],
    edges: pd.DataFrame,
    must_link: Sequence[tuple[int, int]] = (),
    cannot_link: Sequence[tuple[int, int]] = (),
) -> tuple[dict[int, int], set[int], int]:
    """Grow known persons with new records (the incremental form of `cluster_records`).

    Records are numbered in founding order over known and new records together. A known
    person enters as its founding record's number (`known_roots`: root → valid ID or
    None); `known_members` maps the known records that appear in `edges` to their root,
    `known_attached` lists known records already joined by a probabilistic edge. Returns
    the final root of every new record and known root, the records newly attached, and
    the number of labels (`must_link`, `cannot_link`: record pairs, every record among
    `known_members` or new) that could not be honoured.
    """
    parent: dict[int, int] = {root: root for root in known_roots}
    parent.update(known_members)
    ids: dict[int, str] = {root: v for root, v in known_roots.items() if isinstance(v, str)}
    for rid, value in zip(new_rids, new_ids, strict=True):
        parent[int(rid)] = int(rid)
        if isinstance(value, str):
            ids[int(rid)] = value

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    # Per root, the records its component may never hold (reviewed non-matches).
    apart: dict[int, set[int]] = {}

    def union(a: int, b: int) -> None:
        # The smaller number (the earlier record) stays root: labels are founding records.
        keep, drop = (a, b) if a < b else (b, a)
        parent[drop] = keep
        if drop in ids:
            ids.setdefault(keep, ids.pop(drop))
        if drop in apart:
            apart.setdefault(keep, set()).update(apart.pop(drop))

    def kept_apart(a: int, b: int) -> bool:
        return any(find(r) == b for r in apart.get(a, ())) or any(
            find(r) == a for r in apart.get(b, ()))

    first_with_id: dict[str, int] = {v: root for root, v in known_roots.items()
                                     if isinstance(v, str)}
    for rid, value in zip(new_rids, new_ids, strict=True):
        if isinstance(value, str):
            if value in first_with_id:
                a, b = find(first_with_id[value]), find(int(rid))
                if a != b:
                    union(a, b)
            else:
                first_with_id[value] = int(rid)

    unmet = 0
    for left, right in cannot_link:
        a, b = find(left), find(right)
        if a == b:
            unmet += 1
            continue
        apart.setdefault(a, set()).add(right)
        apart.setdefault(b, set()).add(left)

    attached: set[int] = set()
    for left, right in must_link:
        a, b = find(left), find(right)
        if a == b:
            continue
        id_a, id_b = ids.get(a), ids.get(b)
        if (id_a is not None and id_b is not None and id_a != id_b) or kept_apart(a, b):
            unmet += 1
            continue
        union(a, b)
        attached.update((left, right))

    ordered = edges.sort_values(
        ["match_probability", "rid_l", "rid_r"], ascending=[False, True, True], kind="mergesort"
    )
    for left, right in zip(ordered["rid_l"].to_numpy(), ordered["rid_r"].to_numpy(), strict=True):
        left, right = int(left), int(right)
        a, b = find(left), find(right)
        if a == b:
            continue
        id_a, id_b = ids.get(a), ids.get(b)
        if id_a is not None and id_b is not None and id_a != id_b:
            continue
        left_done = left in attached or left in known_attached
        right_done = right in attached or right in known_attached
        if (left_done and right_done) or kept_apart(a, b):
            continue
        union(a, b)
        attached.update((left, right))

    final = {int(rid): find(int(rid)) for rid in new_rids}
    final.update({root: find(root) for root in known_roots})
    return final, attached, unmet


def cluster_records(id_numbers: Sequence[str | None], edges: pd.DataFrame) -> np.ndarray:
    """Person label (index of the person's earliest record) for each record, with no
    known persons: `id_numbers[i]` is record i's valid ID or None, records indexed in
    founding order; `edges` has `rid_l`, `rid_r`, `match_probability`."""
    rids = range(len(id_numbers))
    final, _, _ = extend_clusters(rids, list(id_numbers), {}, {}, set(), edges)
    return np.fromiter((final[i] for i in rids), dtype=np.int64, count=len(id_numbers))
