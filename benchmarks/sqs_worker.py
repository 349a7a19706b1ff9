"""One simulated fan-out worker "Lambda" for benchmark 2: a small local SQS poller.

It long-polls the fan-out queue on moto, hands each message to the real
``handlers.fanout_worker.handler`` as an SQS event (batch size 1, as the stacks deploy it),
deletes the messages the handler did not report in ``batchItemFailures``, and exits on SIGTERM,
when the queue has stayed empty for ``--idle-exit`` seconds after the first message, or at
``--deadline``.

Run by ``benchmarks/sqs_fanout.py``; prints ``READY`` once warm and one JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--idle-exit", type=float, default=2.0)
    parser.add_argument("--deadline", type=float, default=300.0)
    args = parser.parse_args(argv)

    from benchmarks.common import add_lambdas_to_path

    add_lambdas_to_path()
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    import boto3

    from benchmarks.events import FakeContext, sqs_record

    handler_module = __import__("handlers.fanout_worker", fromlist=["handler"])
    sqs = boto3.client("sqs", region_name="us-east-1")
    # Warm the container: clients, connection pools, imports (cold start is benchmark 4).
    warm = json.dumps(
        {
            "message": '{"type":"test","data":{},"timestamp":"x"}',
            "connectionIds": [f"__warmup__{i}" for i in range(8)],
        }
    )
    handler_module.handler({"Records": [sqs_record(warm)]}, FakeContext())
    print("READY", flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    stats = {"invocations": 0, "messages": 0, "failures": 0, "cpu_s": 0.0, "busy_s": 0.0}
    start = time.monotonic()
    last_message = None
    while time.monotonic() - start < args.deadline and not stopping:
        if last_message is not None and time.monotonic() - last_message > args.idle_exit:
            break
        response = sqs.receive_message(
            QueueUrl=args.queue_url,
            MaxNumberOfMessages=args.batch_size,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            continue
        event = {"Records": [sqs_record(m["Body"], m["MessageId"]) for m in messages]}
        c0, w0 = time.process_time(), time.monotonic()
        result = handler_module.handler(event, FakeContext())
        stats["cpu_s"] += time.process_time() - c0
        stats["busy_s"] += time.monotonic() - w0
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=args.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        stats["invocations"] += 1
        stats["messages"] += len(messages)
        stats["failures"] += len(failed)
        last_message = time.monotonic()
    print(json.dumps(stats), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
