"""Great Expectations Data Docs of a run: `<output>/data_docs/<as_of>/index.html`.

Ingest saves each validated file's GX result, without unexpected values, as
`<staging>/data_docs_results/as_of=<D>/<package>/<kind>.json` (`save_result`), in the
staging zone that every worker host shares (an object store when scaled out,
docs/scaling.md). The provinces are ingested by separate tasks, each with its own
process-local ephemeral GX context, so the site is built once per run, after every
province's task, from those saved results
(`build_data_docs`, the DAG's `build_data_docs` task): a fresh ephemeral context gets a
filesystem Data Docs site at the as-of folder, the saved results go into its (in-memory)
validation results store, and the actions of the GX project's Checkpoint
`include/gx/checkpoints/returnstats_data_docs.json` (its UpdateDataDocsAction) run over
them, which renders the validation pages and the index (docs/validation.md says why the
validation itself does not run through the Checkpoint). The report suites (SPEC §3.3,
`validation/report_checks.py`) are validated here over the staged packages' meta.json,
and their results join the site under the name `report`.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from returnstats.config import INCLUDE, Settings
from returnstats.warehouse.location import locate, put_atomic

log = logging.getLogger(__name__)

SITE_NAME = "returnstats"
CHECKPOINT_FILE = INCLUDE / "gx" / "checkpoints" / "returnstats_data_docs.json"
_EXTRA_KEYS = ("suite", "rows")  # ours, not GX's: the saved summary adds them
_UNSAFE_ID = re.compile(r"[^0-9A-Za-z_.-]")


def data_docs_dir(settings: Settings, as_of: date) -> Path:
    return Path(settings.output) / "data_docs" / as_of.isoformat()


def results_dir(as_of: date) -> str:
    """The saved results of a run's ingest, relative to the staging zone."""
    return f"data_docs_results/as_of={as_of.isoformat()}"


def save_result(settings: Settings, as_of: date, package: str, kind: str,
                summary: dict[str, Any]) -> None:
    """The GX validation result of one file of a package (counts only, no values)."""
    put_atomic(locate(settings.staging), f"{results_dir(as_of)}/{package}/{kind}.json",
               json.dumps(summary, ensure_ascii=False, indent=2, default=str).encode("utf-8"))


def saved_results(settings: Settings, as_of: date) -> list[tuple[str, str, bytes]]:
    """(package, kind, JSON) of every result saved for `as_of`, sorted."""
    location = locate(settings.staging)
    files = [f for f in location.files(results_dir(as_of)) if f.endswith(".json")]
    return [(f.split("/")[-2], f.split("/")[-1][:-5], data)
            for f, data in zip(files, location.read_many(files), strict=True)]


REPORT = "report"
"""The name the report suites' results go under in the site (in place of a package)."""


def report_results(settings: Settings, as_of: date) -> list[tuple[str, str, bytes]]:
    """(`REPORT`, kind, JSON) of each report suite (SPEC §3.3) validated over the staged
    packages of `as_of`: the findings publish writes to `report_checks`."""
    from returnstats.reference import provinces
    from returnstats.validation.report_checks import report_checks
    from returnstats.validation.staging import read_report_inputs

    inputs = read_report_inputs(settings, as_of)
    found = report_checks(inputs["sent"], inputs["packages"], inputs["totals"],
                          list(provinces()), as_of)
    return [(REPORT, kind, json.dumps(result, ensure_ascii=False, default=str).encode("utf-8"))
            for kind, result in found.results.items()]


def build_data_docs(settings: Settings, as_of: date) -> Path | None:
    """Build the Data Docs site of `as_of` from every result saved for it; return its
    index.html.

    Run once per run, after all provinces are ingested; running it again rebuilds the
    same site. Data Docs are a by-product: a failure is logged, never raised, and
    returns None.
    """
    try:
        folder = data_docs_dir(settings, as_of)
        folder.mkdir(parents=True, exist_ok=True)
        results = saved_results(settings, as_of) + report_results(settings, as_of)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _build(folder, as_of, results)
    except Exception as exc:  # noqa: BLE001 — docs must never fail the run
        log.error("data docs for %s not built: %s: %s", as_of.isoformat(),
                  type(exc).__name__, str(exc)[:200])
        return None


def _build(folder: Path, as_of: date, results: list[tuple[str, str, bytes]]) -> Path:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    views = {"module_name": "returnstats.validation.data_docs_views"}
    context.add_data_docs_site(site_name=SITE_NAME, site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(folder)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                               "view": {**views, "class_name": "IndexPageView"}},
        "site_section_builders": {
            section: {"view": {**views, "class_name": "PageView"}}
            for section in ("expectations", "validations")},
    })
    # The run is named by its as-of date, not by the clock: a rerun renders the same site.
    run_id = RunIdentifier(run_name=as_of.isoformat(),
                           run_time=datetime(as_of.year, as_of.month, as_of.day,
                                             tzinfo=UTC))
    store = context.validation_results_store
    keys = []
    succeeded: dict[str, bool] = {}
    for package, kind, data in results:
        try:
            payload: dict[str, Any] = json.loads(data.decode("utf-8"))
            if payload.get("rows") == 0 and "suite_name" not in payload:
                continue  # a header-only file: nothing was validated, nothing to render
            for key in _EXTRA_KEYS:
                payload.pop(key, None)
            payload["meta"] = {**(payload.get("meta") or {}), "run_id": run_id.to_json_dict()}
            suite_name = str(payload["suite_name"])
        except Exception as exc:  # noqa: BLE001 — one unreadable result must not hide the rest
            log.warning("data docs for %s: result %s/%s skipped (%s)", as_of.isoformat(),
                        package, kind, type(exc).__name__)
            continue
        key = ValidationResultIdentifier(
            ExpectationSuiteIdentifier(suite_name), run_id,
            _UNSAFE_ID.sub("_", f"{package}.{kind}"))
        # The saved result is already the store's JSON form: the backend takes it as it is
        # (the store loads dicts on read), which spares re-serialising every result.
        store.store_backend.set(store.key_to_tuple(key), payload)
        keys.append(key)
        succeeded[key.batch_identifier] = bool(payload.get("success"))
    if keys:
        _run_checkpoint_actions(run_id, {key: store.get(key) for key in keys})
    else:
        context.build_data_docs(site_names=[SITE_NAME])  # the index of a run with no file
    for page in folder.rglob("*.html"):
        make_offline(page)
    list_results(folder, succeeded)
    return folder / "index.html"


def list_results(folder: Path, succeeded: dict[str, bool]) -> None:
    """Write the run's results into the site's index as a plain table of links.

    GX's index lists them through a script table loaded from a CDN, which `make_offline`
    removes; without this list the offline index would link to nothing. A Checkpoint
    whose actions build no site leaves no index to write into."""
    import html

    index = folder / "index.html"
    if not index.is_file():
        return
    rows = []
    for page in sorted(folder.glob("validations/**/*.html")):
        batch = page.stem
        if batch not in succeeded:
            continue
        suite = ".".join(page.relative_to(folder / "validations").parts[:-3])
        status = "passed" if succeeded[batch] else "findings"
        rows.append(f'<tr><td>{html.escape(suite)}</td><td><a href="'
                    f'{html.escape(page.relative_to(folder).as_posix())}">{html.escape(batch)}'
                    f"</a></td><td>{status}</td></tr>")
    table = ('<section id="returnstats-results"><h2>Validation results of this run</h2>'
             "<table><tr><th>suite</th><th>package.file (or report.suite)</th>"
             "<th>status</th></tr>" + "".join(rows) + "</table></section>")
    text = index.read_text(encoding="utf-8")
    index.write_text(text.replace("</body>", table + "</body>", 1), encoding="utf-8")


def _run_checkpoint_actions(run_id: Any, run_results: dict[Any, Any]) -> None:
    """Run the actions of the project's Data Docs Checkpoint over saved results, as
    `Checkpoint.run` does after validating: UpdateDataDocsActions first, each action's
    result passed on to the next (GX's public `ValidationAction.run`)."""
    from great_expectations.checkpoint.actions import ActionContext, UpdateDataDocsAction
    from great_expectations.checkpoint.checkpoint import Checkpoint, CheckpointResult

    checkpoint = Checkpoint.parse_obj(json.loads(CHECKPOINT_FILE.read_text(encoding="utf-8")))
    result = CheckpointResult(run_id=run_id, run_results=run_results,
                              checkpoint_config=checkpoint)
    action_context = ActionContext()
    for action in sorted(checkpoint.actions,
                         key=lambda a: not isinstance(a, UpdateDataDocsAction)):
        action_context.update(action=action, action_result=action.run(
            checkpoint_result=result, action_context=action_context))


# GX's page templates load Bootstrap, jQuery, Vega and fonts from public CDNs, which a
# statistics office network does not reach: those tags are removed and the pages use the
# site's own stylesheet (static/styles/, written by GX) instead; links out are kept as text.
_REMOTE_TAG = re.compile(
    r"<(?:link|script)\b[^>]*\b(?:href|src)\s*=\s*[\"']?(?:https?:)?//[^>]*>(?:\s*</script>)?",
    re.I)
_REMOTE_LINK = re.compile(r"\bhref\s*=\s*([\"'])(?:https?:)?//[^\"']*\1", re.I)
_REMOTE_URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}/[^\s\"')]*")
_OFFLINE_STYLE = ("<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
                  "td,th{border:1px solid #ccc;padding:.2em .4em}.hide,.d-none{display:none}"
                  "</style>")


def make_offline(page: Path) -> None:
    """Rewrite one Data Docs page so that it references no resource on the network."""
    html = page.read_text(encoding="utf-8")
    html = _REMOTE_TAG.sub("", html)
    html = _REMOTE_LINK.sub('href="#"', html)
    html = _REMOTE_URL.sub("", html)
    html = html.replace("</head>", _OFFLINE_STYLE + "</head>", 1)
    page.write_text(html, encoding="utf-8")
