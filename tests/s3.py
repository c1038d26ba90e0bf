"""A real S3-compatible server for the tests: moto's standalone server on 127.0.0.1 and
a free port, started once per session (`s3_server` in tests/conftest.py); each test
gets its own bucket. Other processes (Celery workers) reach it over HTTP like any S3."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
KEY, SECRET = "returnstats-test", "returnstats-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    @property
    def options(self) -> dict[str, Any]:
        """s3fs storage options (what returnstats_airflow.storage builds from a connection)."""
        return {"key": KEY, "secret": SECRET,
                "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION}}

    def connection_uri(self) -> str:
        """`AIRFLOW_CONN_AWS_DEFAULT`: the connection the DAG reads the credentials from."""
        return json.dumps({"conn_type": "aws", "login": KEY, "password": SECRET,
                           "extra": {"endpoint_url": self.endpoint, "region_name": REGION}})

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False,
                                 **self.options)

    def new_bucket(self) -> str:
        name = f"returnstats-{uuid.uuid4().hex[:12]}"
        self.filesystem().call_s3("create_bucket", Bucket=name)
        return name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, S3Server(f"http://127.0.0.1:{port}")
