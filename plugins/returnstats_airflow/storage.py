"""Object-store credentials from an Airflow connection (SPEC §8: staging and the warehouse
on object storage, credentials never in code).

The connection is `aws_default`, or the one named by `RETURNSTATS_STORAGE_CONN_ID`:
login = access key id, password = secret access key; extras `endpoint_url` (an
S3-compatible server, e.g. MinIO), `region_name`, `aws_session_token`. No connection
means the AWS defaults (environment, instance role). The options go to fsspec (s3fs) for
every object-store zone, and through them to DuckDB's httpfs secret
(`returnstats.warehouse.duckdb_access`).
"""

from __future__ import annotations

import os
from typing import Any

STORAGE_CONN_ENV = "RETURNSTATS_STORAGE_CONN_ID"
DEFAULT_CONN_ID = "aws_default"


def storage_conn_id() -> str:
    return os.environ.get(STORAGE_CONN_ENV, "").strip() or DEFAULT_CONN_ID


def s3_options(login: str | None, password: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    """s3fs storage options from a connection's fields."""
    options: dict[str, Any] = {}
    if login:
        options["key"] = login
    if password:
        options["secret"] = password
    if extra.get("aws_session_token"):
        options["token"] = extra["aws_session_token"]
    service = (extra.get("service_config") or {}).get("s3") or {}
    client = {name: value for name, value in (
        ("endpoint_url", extra.get("endpoint_url") or service.get("endpoint_url")),
        ("region_name", extra.get("region_name")),
    ) if value}
    if client:
        options["client_kwargs"] = client
    return options


def storage_options() -> dict[str, Any]:
    """The storage options of the configured object-store zones; {} when every zone is a
    local directory (no connection is looked up) or the connection does not exist."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException
    from returnstats.config import object_store_urls

    if not object_store_urls():
        return {}
    try:
        connection = Connection.get(storage_conn_id())
    except AirflowNotFoundException:
        return {}
    return s3_options(connection.login, connection.password, connection.extra_dejson)
