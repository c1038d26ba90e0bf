"""The one exception of the reports room: a package that cannot be taken in (SPEC §3.1)."""

from __future__ import annotations


class PackageRejected(Exception):
    """A package-level failure; `reason` is a `package.*` id of docs/rules.md.

    `detail` names the file, row and column where known, never a cell's content (it may
    be personal data).
    """

    def __init__(self, reason: str, detail: str, file: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.file = file

    def __reduce__(self):  # keep the three fields when pickled (Airflow XCom, multiprocessing)
        return (type(self), (self.reason, self.detail, self.file))
