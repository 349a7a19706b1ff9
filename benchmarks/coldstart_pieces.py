"""What each Powertools piece (and Pydantic) adds to a cold start, measured alone.

``python -m benchmarks.coldstart_pieces [samples]``: each statement runs in a fresh process after
its prerequisites are imported (``import boto3`` first, as every function has it), and its CPU time
(``time.process_time``) is the median over ``samples`` processes, next to the bare boto3 handler
measured the same way in the same run. The Tracer rows run with ``LAMBDA_TASK_ROOT`` set, as in
Lambda, so that it really patches. Used to decide what the handlers import when (benchmarks/README.md,
"Cold start").
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

PIECES: dict[str, tuple[str, str]] = {
    "bare boto3 handler (import boto3 + client)": (
        "",
        "import boto3; boto3.client('dynamodb', region_name='us-east-1')",
    ),
    "Powertools Logger + Metrics": (
        "import boto3",
        "from aws_lambda_powertools import Logger, Metrics; Logger(); Metrics(namespace='x')",
    ),
    "event handler (APIGatewayHttpResolver)": (
        "import boto3, aws_lambda_powertools",
        "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; APIGatewayHttpResolver()",
    ),
    "every event data class": (
        "import boto3, aws_lambda_powertools",
        "import aws_lambda_powertools.utilities.data_classes",
    ),
    "batch utility (BatchProcessor)": (
        "import boto3, aws_lambda_powertools",
        "from aws_lambda_powertools.utilities.batch import BatchProcessor",
    ),
    "idempotency utility": (
        "import boto3, aws_lambda_powertools",
        "import aws_lambda_powertools.utilities.idempotency",
    ),
    "Pydantic BaseModel": ("import boto3, aws_lambda_powertools", "from pydantic import BaseModel"),
    "parser (parse)": (
        "import boto3, aws_lambda_powertools, pydantic",
        "from aws_lambda_powertools.utilities.parser import parse",
    ),
    "Tracer, every supported library patched": (
        "import boto3, aws_lambda_powertools",
        "from aws_lambda_powertools import Tracer; Tracer()",
    ),
    "Tracer, botocore patched (as the functions do)": (
        "import boto3, aws_lambda_powertools",
        "from aws_lambda_powertools import Tracer; Tracer(patch_modules=['botocore'])",
    ),
}
_CODE = "import time\n{pre}\nc = time.process_time()\n{stmt}\nprint(time.process_time() - c)"


def measure(samples: int = 5) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    here = os.path.dirname(os.path.abspath(__file__))  # any directory: it only has to be set
    env.update(LAMBDA_TASK_ROOT=here, AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR", AWS_DEFAULT_REGION="us-east-1")
    runs: dict[str, list[float]] = {name: [] for name in PIECES}
    for _ in range(samples):  # interleaved: the machine's noise hits every piece alike
        for name, (pre, stmt) in PIECES.items():
            out = subprocess.run(  # noqa: S603
                [sys.executable, "-c", _CODE.format(pre=pre, stmt=stmt)],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=True,
            )
            runs[name].append(float(out.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(values) for name, values in runs.items()}


if __name__ == "__main__":
    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    bare = result["bare boto3 handler (import boto3 + client)"]
    for name, seconds in result.items():
        print(f"{name:50s} {seconds * 1000:6.0f} ms CPU  ({seconds / bare:.2f}x bare)")
