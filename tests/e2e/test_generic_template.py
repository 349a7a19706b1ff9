"""The runtime against a small hand-written template with inline functions: error mapping,
timeouts, environment isolation, concurrency and warm workers - independent of the app's code."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from local_runtime.process import RuntimeProcess

CODE = {
    "Echo": """
import os, json, time
STARTED = time.time()
def handler(event, context):
    if "body" in event and event.get("requestContext", {}).get("http"):
        body = json.loads(event.get("body") or "{}")
        if body.get("sleep"):
            time.sleep(body["sleep"])
        if body.get("raise"):
            raise RuntimeError("boom")
        env = os.environ
        out = {"mine": env.get("ONLY_ECHO"), "other": env.get("ONLY_OTHER"), "pid": os.getpid(),
               "started": STARTED, "table": env.get("TABLE"), "fn": context.function_name,
               "left": context.get_remaining_time_in_millis(), "path": event["pathParameters"],
               "q": event.get("queryStringParameters")}
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(out)}
    return {"statusCode": 200}
""",
    "Other": """
import os, json
def handler(event, context):
    if event.get("requestContext", {}).get("routeKey") == "boom":
        raise ValueError("route failure")
    if event.get("requestContext", {}).get("http"):
        return {"statusCode": 201, "body": json.dumps({"mine": os.environ.get("ONLY_OTHER"),
                                                       "other": os.environ.get("ONLY_ECHO")})}
    return {"statusCode": 200}
""",
}


def _fn(name: str, env: dict) -> dict:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Handler": "index.handler",
            "Runtime": "python3.14",
            "Timeout": 1,
            "Code": {"ZipFile": CODE[name]},
            "Environment": {"Variables": env},
        },
    }


def _route(api: str, key: str, integ: str) -> dict:
    return {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {
            "ApiId": {"Ref": api},
            "RouteKey": key,
            "AuthorizationType": "NONE",
            "Target": {"Fn::Join": ["", ["integrations/", {"Ref": integ}]]},
        },
    }


def _integ(api: str, fn: str) -> dict:
    return {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": {"Ref": api},
            "IntegrationType": "AWS_PROXY",
            "PayloadFormatVersion": "2.0",
            "IntegrationUri": {"Fn::GetAtt": [fn, "Arn"]},
        },
    }


TEMPLATE = {
    "Resources": {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            },
        },
        "Echo": _fn("Echo", {"ONLY_ECHO": "echo-value", "TABLE": {"Ref": "Table"}}),
        "Other": _fn("Other", {"ONLY_OTHER": "other-value"}),
        "Http": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "h", "ProtocolType": "HTTP"}},
        "HttpStage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": {"Ref": "Http"}, "StageName": "$default"},
        },
        "EchoInteg": _integ("Http", "Echo"),
        "OtherInteg": _integ("Http", "Other"),
        "EchoRoute": _route("Http", "POST /echo/{id}", "EchoInteg"),
        "OtherRoute": _route("Http", "ANY /other", "OtherInteg"),
        "Ws": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": "w",
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": "$request.body.action",
            },
        },
        "WsStage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": {"Ref": "Ws"}, "StageName": "v1"},
        },
        "WsInteg": _integ("Ws", "Other"),
        "WsBoom": _route("Ws", "boom", "WsInteg"),
        "Queue": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Mystery": {"Type": "AWS::Pipes::Pipe", "Properties": {}},
    }
}


@pytest.fixture(scope="module")
def generic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    out = tmp_path_factory.mktemp("generic") / "cdk.out"
    out.mkdir()
    (out / "RealtimeComments-dev.template.json").write_text(json.dumps(TEMPLATE))
    rt = RuntimeProcess(out.parent / "state", out, fresh=True, extra=["--wait-warm"])
    rt.start()
    yield rt
    rt.stop()


def test_unsupported_types_are_listed_once(generic: RuntimeProcess) -> None:
    lines = [ln for ln in generic.tail(400).splitlines() if "UNSUPPORTED" in ln]
    assert len(lines) == 1 and "Pipes::Pipex1" in lines[0]


def test_environment_isolation_and_context(generic: RuntimeProcess) -> None:
    async def scenario() -> None:
        api = generic.urls["apiUrl"]
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{api}/echo/a%2Fb?x=1&x=2", json={}) as r:
                assert r.status == 200
                body = await r.json()
            assert body["mine"] == "echo-value" and body["other"] is None
            assert body["table"] == "RealtimeComments-dev-Table"
            assert body["fn"] == "RealtimeComments-dev-Echo" and 0 < body["left"] <= 1000
            assert body["path"] == {"id": "a/b"} and body["q"] == {"x": "1,2"}
            async with s.get(f"{api}/other") as r:
                assert r.status == 201
                assert await r.json() == {"mine": "other-value", "other": None}
            # warm: the same process serves the next call
            async with s.post(f"{api}/echo/1", json={}) as r:
                again = await r.json()
            assert again["started"] == body["started"]

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_handler_errors_and_timeouts_map_to_api_gateway_errors(generic: RuntimeProcess) -> None:
    async def scenario() -> None:
        api = generic.urls["apiUrl"]
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{api}/echo/1", json={"raise": True}) as r:
                assert r.status == 500 and await r.json() == {"message": "Internal Server Error"}
            async with s.post(f"{api}/echo/1", json={"sleep": 3}) as r:  # Timeout: 1 s
                assert r.status == 500
            async with s.post(f"{api}/echo/1", json={}) as r:  # a fresh worker serves again
                assert r.status == 200
            async with s.get(f"{api}/nowhere") as r:
                assert r.status == 404 and await r.json() == {"message": "Not Found"}
            ws = await s.ws_connect(generic.urls["websocketUrl"] + "/v1")
            await ws.send_str(json.dumps({"action": "boom"}))
            msg = json.loads((await ws.receive(timeout=5)).data)
            assert msg["message"] == "Internal server error" and msg["connectionId"] and msg["requestId"]
            await ws.send_str("no route for this and no $default")
            msg = json.loads((await ws.receive(timeout=5)).data)
            assert msg["message"] == "Forbidden"
            await ws.close()
        assert "RuntimeError: boom" in generic.tail(400)
        assert "Task timed out after 1.00 seconds" in generic.tail(400)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_concurrent_invocations_use_several_warm_workers(generic: RuntimeProcess) -> None:
    async def scenario() -> None:
        api = generic.urls["apiUrl"]
        async with aiohttp.ClientSession() as s:

            async def call() -> int:
                async with s.post(f"{api}/echo/1", json={"sleep": 0.4}) as r:
                    return (await r.json())["pid"]

            pids = await asyncio.gather(*(call() for _ in range(4)))
        assert len(set(pids)) >= 2

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_state_dir_has_endpoints_and_snapshot(generic: RuntimeProcess) -> None:
    endpoints = json.loads((Path(generic.state_dir) / "endpoints.json").read_text())
    assert set(endpoints) == {"websocketUrl", "callbackUrl", "apiUrl", "tokenUrl", "dataUrl", "frontendUrl"}


def test_calls_beyond_the_worker_pool_wait_and_succeed(generic: RuntimeProcess) -> None:
    """Twelve concurrent calls on a pool of four: all succeed (none is refused or times out for
    waiting, since a function's timeout runs from when a worker takes the call), and the runtime
    says in its log that the function was saturated, counting the calls that waited."""

    async def scenario() -> list[int]:
        api = generic.urls["apiUrl"]
        async with aiohttp.ClientSession() as s:

            async def call() -> int:
                async with s.post(f"{api}/echo/2", json={"sleep": 0.3}) as r:
                    await r.read()
                    return r.status

            return await asyncio.gather(*(call() for _ in range(12)))

    statuses = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert statuses == [200] * 12
    assert re.search(r"Echo: all 4 workers busy: [1-9]\d* call\(s\) waited", generic.tail(400))
