"""DuckDB reading an object-store warehouse: the catalog's views name `s3://…` files, and
a connection must be able to open them.

For S3 the way is DuckDB's httpfs extension with a secret made from the same credentials
as the root's filesystem (`s3_secret_sql`). Where httpfs cannot be loaded (a host that
cannot download DuckDB extensions, as this project's CI), the root's own fsspec
filesystem is registered with DuckDB instead, which reads the same URLs through Python:
slower, the same rows. Other schemes (`gs://`, `memory://`) always go through fsspec.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import duckdb

from returnstats.warehouse.location import Location

log = logging.getLogger(__name__)


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def s3_secret_sql(options: Mapping[str, Any], name: str = "returnstats") -> str:
    """CREATE SECRET for httpfs from s3fs storage options (key, secret, token,
    client_kwargs.endpoint_url / region_name); without a key, the AWS credential chain."""
    client = dict(options.get("client_kwargs") or {})
    endpoint = client.get("endpoint_url") or options.get("endpoint_url")
    region = client.get("region_name") or options.get("region_name")
    if options.get("key"):
        parts = ["TYPE s3", f"KEY_ID {_quote(options['key'])}",
                 f"SECRET {_quote(options.get('secret') or '')}"]
        if options.get("token"):
            parts.append(f"SESSION_TOKEN {_quote(options['token'])}")
    else:
        parts = ["TYPE s3", "PROVIDER credential_chain"]
    if region:
        parts.append(f"REGION {_quote(region)}")
    if endpoint:
        url = urlsplit(endpoint)
        parts += [f"ENDPOINT {_quote(url.netloc)}", "URL_STYLE 'path'",
                  f"USE_SSL {'true' if url.scheme == 'https' else 'false'}"]
    return f"CREATE OR REPLACE SECRET {name} ({', '.join(parts)})"


def open_store(con, location: Location) -> str:
    """Make the files of `location` readable in DuckDB connection `con`; returns how
    ("local", "httpfs" or "fsspec")."""
    if location.is_local:
        return "local"
    protocols = (location.fs.protocol,) if isinstance(location.fs.protocol, str) \
        else tuple(location.fs.protocol)
    if "s3" in protocols:
        try:
            con.execute("LOAD httpfs")
            con.execute(s3_secret_sql(location.fs.storage_options))
            return "httpfs"
        except Exception as error:  # noqa: BLE001 — the extension is absent: fsspec reads
            log.info("DuckDB httpfs not available (%s): reading %s through fsspec",
                     str(error).splitlines()[0][:120], location.url)
    try:
        con.register_filesystem(location.fs)
    except duckdb.InvalidInputException as error:
        if "already been registered" not in str(error):
            raise
    return "fsspec"
