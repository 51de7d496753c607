"""A real local S3 server for the tests: moto's server mode (``ThreadedMotoServer``, a Werkzeug
HTTP server in this process speaking the S3 REST API on a free loopback port; no internet).
Fake credentials; one bucket per test."""
from __future__ import annotations

import itertools
import logging

from tests import live

_buckets = itertools.count(1)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "cityops-test", "AWS_SECRET_ACCESS_KEY": "cityops-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


class Server:
    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.port = live.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> "Server":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def env(self) -> dict:
        return {**CREDENTIALS, "CITYOPS_SNAPSHOT_STORE_ENDPOINT": self.endpoint}

    def new_bucket(self) -> str:
        import boto3

        name = f"cityops-releases-{next(_buckets)}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                     aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket=name)
        return name
