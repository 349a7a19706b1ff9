"""Another team installs the built wheel into its own project and uses the constructs alone.

The consumer project lives in a temporary folder with its own ``stacks/`` and ``lambdas/``
packages (the layout that used to shadow ours). Its venvs are made offline: the wheel installs
with ``pip install --no-index --find-links <wheel dir>``, and the wheel's dependencies are the ones
this checkout's venv already holds, linked into a folder on the consumer venv's path (pip sees
them as installed, so nothing is fetched). The venvs and the wheel are built once per session.

(a) The consumer composes ConnectionsStore, CommentsStore, WebSocketApi and Broadcaster with its
    own table names and an existing OIDC issuer and synthesizes with AwsSolutionsChecks: 0 findings.
(b) The local runtime serves that template: subscribe -> write -> receive over loopback.
(c) WebSocketService from the installed package in a venv that has boto3 and no aws-cdk-lib.
"""

from __future__ import annotations

import asyncio
import importlib.metadata as metadata
import json
import os
import re
import subprocess
import textwrap
import venv
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from packaging.requirements import Requirement

from tests.wheel import build_wheel

REPO = Path(__file__).resolve().parents[1]
JSII_ENV = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}

CONSUMER_APP = '''
"""A team's own CDK app: its stacks/ package composes the installed constructs."""
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.chat_stack import ChatStack

app = cdk.App(outdir=sys.argv[1])
ChatStack(app, "ChatStack", issuer_url=sys.argv[2], layer_cache=Path(sys.argv[3]))
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
'''

CONSUMER_STACK = '''
"""The consumer's stack: its own table names, an existing OIDC issuer, no Cognito."""
from pathlib import Path

import aws_cdk as cdk
from realtime_comments_cdk import (
    Broadcaster,
    CommentsStore,
    ConnectionsStore,
    FunctionDefaults,
    Identity,
    OidcIssuer,
    TableOptions,
    WebSocketApi,
)

from lambdas.team_code import TEAM


class ChatStack(cdk.Stack):
    def __init__(self, scope, id, *, issuer_url: str, layer_cache: Path):
        super().__init__(scope, id)
        defaults = FunctionDefaults(layer_cache_dir=layer_cache)
        connections = ConnectionsStore(
            self, "Connections", table_options=TableOptions(table_name=f"{TEAM}-connections")
        )
        comments = CommentsStore(self, "Comments", table_options=TableOptions(table_name=f"{TEAM}-comments"))
        identity = Identity(self, "Identity", oidc_issuer=OidcIssuer(issuer_url=issuer_url, audience=TEAM))
        websocket = WebSocketApi(
            self,
            "WebSocket",
            connections_table=connections.table,
            comments_table=comments.table,
            jwt_issuer=identity.issuer,
            jwt_audience=identity.audience,
            jwks_url=identity.jwks_url,
            allowed_origins=("https://chat.example.com",),
            function_defaults=defaults,
        )
        Broadcaster(
            self,
            "Broadcaster",
            comments_table=comments.table,
            connections_table=connections.table,
            websocket=websocket,
            function_defaults=defaults,
        )
'''

CLIENT_SCRIPT = """
import json, sys
import realtime_comments_client
from realtime_comments_client import WebSocketService

try:
    import aws_cdk  # noqa: F401
except ImportError:
    has_cdk = False
else:
    has_cdk = True
import boto3

session = boto3.session.Session(
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
)
service = WebSocketService(sys.argv[1], region="eu-west-1", session=session)
answer = service.broadcast_new_comment("post-1", {"id": "c1", "content": "hi"})
print(json.dumps({"answer": answer, "has_cdk": has_cdk, "version": realtime_comments_client.__version__,
                  "module": realtime_comments_client.__file__}))
"""


def _distribution_closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need, transitively (extras not included)."""
    seen: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(seen.values())


def _link_distributions(names: list[str], target: Path) -> Path:
    """A folder of links to the installed files of ``names`` and their dependencies."""
    target.mkdir(parents=True)
    for dist in _distribution_closure(names):
        site = Path(str(dist.locate_file("")))
        for top in {str(f).split("/")[0] for f in dist.files or []}:
            if top.startswith("..") or top == "__pycache__" or top.endswith(".pth"):
                continue
            link = target / top
            if not link.exists():
                link.symlink_to(site / top)
    return target


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)
    assert done.returncode == 0, f"{args[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _venv(root: Path, dependencies: Path) -> Path:
    """A fresh venv whose site has ``dependencies`` on its path and the wheel installed offline."""
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    (site / "shared-dependencies.pth").write_text(f"{dependencies}\n")
    return python


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build_wheel(out)
    return out


def _install(python: Path, wheel_dir: Path, requirement: str) -> None:
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheel_dir),
            requirement,
        ],
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )


@pytest.fixture(scope="session")
def consumer(tmp_path_factory: pytest.TempPathFactory, wheel_dir: Path) -> Path:
    """The consumer project: its own stacks/ and lambdas/, and a venv with realtime-comments[cdk]."""
    root = tmp_path_factory.mktemp("consumer")
    dependencies = _link_distributions(["aws-cdk-lib", "constructs", "cdk-nag", "boto3"], root / "deps")
    python = _venv(root / ".venv", dependencies)
    _install(python, wheel_dir, "realtime-comments[cdk]")
    (root / "stacks").mkdir()
    (root / "stacks" / "__init__.py").write_text("")
    (root / "stacks" / "chat_stack.py").write_text(textwrap.dedent(CONSUMER_STACK))
    (root / "lambdas").mkdir()
    (root / "lambdas" / "__init__.py").write_text("")
    (root / "lambdas" / "team_code.py").write_text('TEAM = "team-chat"\n')
    (root / "app.py").write_text(textwrap.dedent(CONSUMER_APP))
    return root


def _synth(consumer: Path, outdir: Path, issuer_url: str) -> dict:
    _run(
        [
            str(consumer / ".venv" / "bin" / "python"),
            "app.py",
            str(outdir),
            issuer_url,
            str(REPO / ".build" / "layers"),
        ],
        cwd=consumer,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **JSII_ENV},
        timeout=300,
    )
    return json.loads((outdir / "ChatStack.template.json").read_text())


@pytest.fixture(scope="session")
def issuer() -> Iterator[tuple[Any, Any]]:
    """The team's existing OIDC issuer: an RS256 key whose JWKS is served on loopback."""
    from local_runtime.identity import Identity, JwksServer

    server = JwksServer()
    identity = Identity.ephemeral(server.url, "team-chat")
    server.jwks = identity.jwks
    yield server, identity
    server.close()


@pytest.fixture(scope="session")
def consumer_out(consumer: Path, issuer: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The consumer's app synthesized once (AwsSolutionsChecks on: any unacknowledged finding fails it)."""
    outdir = tmp_path_factory.mktemp("consumer-out") / "cdk.out"
    _synth(consumer, outdir, issuer[0].url)
    return outdir


def test_installed_names_do_not_collide_with_the_consumers_packages(consumer: Path) -> None:
    python = consumer / ".venv" / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    ours = {p.name for p in site.iterdir() if p.name.startswith("realtime_comments")}
    assert {"realtime_comments_cdk", "realtime_comments", "realtime_comments_client"} <= ours
    assert not {"stacks", "lambdas", "handlers"} & {p.name for p in site.iterdir()}
    probe = (
        "import stacks, lambdas, realtime_comments_cdk, importlib.resources as r;"
        "print(stacks.__file__, lambdas.__file__, realtime_comments_cdk.__file__,"
        " r.files('realtime_comments_cdk.functions').joinpath('handlers', 'ws_connect.py').is_file())"
    )
    out = _run([str(python), "-c", probe], cwd=consumer, env={**os.environ, **JSII_ENV}).stdout.split()
    assert out[0].startswith(str(consumer)) and out[1].startswith(str(consumer))
    assert out[2].startswith(str(site)) and out[3] == "True"


def test_a_consumer_stack_synthesizes_with_aws_solutions_checks_and_no_finding(
    consumer_out: Path, issuer: tuple[Any, Any]
) -> None:
    outdir = consumer_out
    template = json.loads((outdir / "ChatStack.template.json").read_text())
    report = json.loads((outdir / "validation-report.json").read_text())
    packs = {r["pluginName"]: r for r in report["pluginReports"]}
    # The app's synth would have failed on any finding not acknowledged; the acknowledged ones are
    # the constructs' own (WebSocketApi's routes and grants, ServiceFunction's X-Ray, Broadcaster's DLQ).
    assert packs["AwsSolutions"]["conclusion"] == "success" and packs["AwsSolutions"]["violations"] == []
    assert packs["AwsSolutions"]["suppressedViolations"]
    tables = {
        r["Properties"].get("TableName")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table"
    }
    assert tables == {"team-chat-connections", "team-chat-comments"}
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::Cognito::")]
    authorizer = next(
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "handlers.authorizer.handler"
    )
    assert authorizer["Properties"]["Environment"]["Variables"]["JWT_ISSUER"] == issuer[0].url
    assets = [p for p in outdir.glob("asset.*") if (p / "handlers" / "ws_connect.py").is_file()]
    assert assets, "the functions' code asset comes from the installed package"


@pytest.mark.e2e
def test_the_local_runtime_serves_the_consumers_template_end_to_end(
    consumer_out: Path, issuer: tuple[Any, Any], tmp_path: Path
) -> None:
    import aiohttp
    import boto3
    from realtime_comments.comments.repository import CommentsRepository
    from realtime_comments.comments.service import create_comment

    from local_runtime.process import RuntimeProcess

    _, identity = issuer
    runtime = RuntimeProcess(tmp_path / "state", consumer_out, extra=["--stack", "ChatStack", "--wait-warm"])
    urls = runtime.start()
    try:
        token = identity.issue("alice")

        async def round_trip() -> dict:
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"{urls['websocketUrl']}?token={token}")
                await ws.send_json({"action": "subscribe", "postId": "post-1"})
                seen = []
                while not any(m["type"] == "comments.list" for m in seen):
                    seen.append(await asyncio.wait_for(ws.receive_json(), 20))
                client = boto3.client(
                    "dynamodb",
                    endpoint_url=urls["dataUrl"],
                    region_name="us-east-1",
                    aws_access_key_id="local",
                    aws_secret_access_key="local",  # noqa: S106 - the local data store's fixed key
                )
                create_comment(
                    CommentsRepository("team-chat-comments", client), "post-1", "bob", "hello team"
                )
                while True:
                    message = await asyncio.wait_for(ws.receive_json(), 20)
                    if message["type"] == "comment.created":
                        await ws.close()
                        return message

        message = asyncio.run(round_trip())
    finally:
        runtime.stop()
    assert message["data"]["postId"] == "post-1"
    assert message["data"]["comment"]["content"] == "hello team"
    assert message["data"]["comment"]["userId"] == "bob"


class _BroadcastEndpoint(BaseHTTPRequestHandler):
    received: list[dict] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signed = self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ")
        self.received.append({"path": self.path, "body": json.loads(body), "signed": signed})
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status":"accepted","recipients":1}')


@pytest.fixture
def broadcast_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BroadcastEndpoint)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _BroadcastEndpoint.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_client_alone_works_without_aws_cdk_lib(
    tmp_path_factory: pytest.TempPathFactory, wheel_dir: Path, broadcast_endpoint: str
) -> None:
    root = tmp_path_factory.mktemp("client")
    python = _venv(root / ".venv", _link_distributions(["boto3"], root / "deps"))
    _install(python, wheel_dir, "realtime-comments")  # no [cdk] extra
    script = root / "client.py"
    script.write_text(textwrap.dedent(CLIENT_SCRIPT))
    done = _run([str(python), str(script), broadcast_endpoint], cwd=root)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["has_cdk"] is False
    assert result["answer"] == {"status": "accepted", "recipients": 1}
    assert result["module"].startswith(str(root / ".venv"))
    assert result["version"] == metadata.version("realtime-comments")
    (request,) = _BroadcastEndpoint.received
    assert request["path"] == "/api/v1/broadcast" and request["signed"]
    assert request["body"]["type"] == "comment.created" and request["body"]["postId"] == "post-1"
