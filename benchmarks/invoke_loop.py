"""CPU of one function invocation in the local runtime, in a bare loop (no gateway, no clients).

``python -m benchmarks.invoke_loop [--n 300] [--concurrency 1] [--cdk-out cdk.out]`` starts the
data process and the dev stage's function pools as the runtime does (its start-up phases, without
the gateways and event sources, whose pollers would add their own CPU), stores N connections
through ``$connect``, then removes them through ``$disconnect`` and prints, per ``$disconnect``:
the CPU of its workers (``/proc``: the handler, its DynamoDB calls, the JSON-lines protocol)
and of this process (``local_runtime.functions``: the request, the pipe, the answer), and per
worker the cold start: CPU at READY (the handler's imports) and its first call (boto3's client).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from local_runtime.functions import FunctionPool
from local_runtime.runtime import Options, Runtime


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ws_event(connection_id: str, route: str, user_id: str) -> dict[str, Any]:
    context = {
        "connectionId": connection_id,
        "routeKey": route,
        "eventType": route.strip("$").upper(),
        "authorizer": {"userId": user_id, "principalId": user_id},
        "requestId": "bench",
        "stage": "dev",
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench"},
    }
    return {"requestContext": context, "headers": {"Host": "127.0.0.1"}, "isBase64Encoded": False}


def pool_of(runtime: Runtime, handler: str) -> FunctionPool:
    return next(p for p in runtime.functions.pools.values() if p.spec.handler == handler)


def workers_cpu_s(pool: FunctionPool) -> float:
    return sum(proc_cpu_s(w.pid) for w in pool._all if w.pid)


async def run(n: int, concurrency: int, cdk_out: Path) -> None:
    state = Path(tempfile.mkdtemp(prefix="bench-invoke-"))
    runtime = Runtime(
        Options(
            cdk_out=cdk_out,
            synth=False,
            fresh=True,
            state_dir=state,
            frontend=False,
            ws_port=0,
            api_port=0,
            workers_per_function=concurrency,
        )
    )
    runtime._check_exposure()
    template = runtime._load_template()
    runtime.snapshot_path = state / "snapshot.json"
    for sock in await runtime._start_data_store_and_bind():
        if sock is not None:
            sock.close()  # no gateway here
    try:
        await runtime._create_resources(template)
        runtime._start_identity()
        runtime._start_functions()
        connect = pool_of(runtime, "handlers.ws_connect.handler")
        disconnect = pool_of(runtime, "handlers.ws_disconnect.handler")
        await connect.warm(1)
        await disconnect.warm(concurrency)
        ready_cpu = {w.pid: proc_cpu_s(w.pid) for w in disconnect._all if w.pid}
        ids = [f"bench-{i:05d}" for i in range(n)]
        for i, cid in enumerate(ids):
            res = await connect.invoke(ws_event(cid, "$connect", f"u{i}"))
            assert res.ok and res.result == {"statusCode": 200}, res
        gate = asyncio.Semaphore(concurrency)

        async def disconnect_one(cid: str) -> None:
            async with gate:
                res = await disconnect.invoke(ws_event(cid, "$disconnect", "u"))
                assert res.ok, res

        first, measured = ids[:concurrency], ids[concurrency:]
        await asyncio.gather(*(disconnect_one(c) for c in first))  # one idle worker each
        first_cpu = [proc_cpu_s(pid) - cpu for pid, cpu in ready_cpu.items()]
        w0, r0, t0 = workers_cpu_s(disconnect), time.process_time(), time.perf_counter()
        await asyncio.gather(*(disconnect_one(c) for c in measured))
        wall = time.perf_counter() - t0
        worker_ms = (workers_cpu_s(disconnect) - w0) / len(measured) * 1000
        runtime_ms = (time.process_time() - r0) / len(measured) * 1000
        print(
            f"{len(measured)} $disconnect, {concurrency} at a time: worker CPU {worker_ms:.2f} ms, "
            f"this process {runtime_ms:.2f} ms, wall {wall / len(measured) * 1000:.1f} ms each; cold start "
            f"per worker: {sum(ready_cpu.values()) / len(ready_cpu) * 1000:.0f} ms to READY, first "
            f"call {sum(first_cpu) / len(first_cpu) * 1000:.0f} ms; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        await runtime.functions.close()
        if runtime.data is not None:
            await runtime.data.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.invoke_loop", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    args = parser.parse_args(argv)
    asyncio.run(run(args.n, args.concurrency, args.cdk_out))


if __name__ == "__main__":
    main()
