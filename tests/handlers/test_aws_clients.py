"""aws_clients.preload: the data files a client is built from are read at import, not in the first
request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter (the test process has read these files long ago), with no region and no
# credentials: preload runs at a handler's import, before the environment is known to be complete.
CHILD = """
import json
from botocore.loaders import JSONFileLoader
from realtime_comments import aws_clients

aws_clients.preload("dynamodb")
read = []
original = JSONFileLoader.load_file


def load_file(self, path):
    data = original(self, path)
    if data is not None:  # None: no such file (botocore looks for optional ones)
        read.append(path)
    return data


JSONFileLoader.load_file = load_file
aws_clients.dynamodb("eu-west-1")
print(json.dumps(read))
"""


def _files_read_by_the_first_client(child: str) -> list[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "lambdas"), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_after_a_preload_the_first_client_reads_no_data_file() -> None:
    assert _files_read_by_the_first_client(CHILD) == []


def test_without_a_preload_the_first_client_reads_them() -> None:
    """The check above can fail: the same child without the preload reads the service's files."""
    read = _files_read_by_the_first_client(CHILD.replace('aws_clients.preload("dynamodb")', ""))
    assert any("/dynamodb/" in path for path in read)
