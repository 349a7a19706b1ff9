"""Another team installs this repository with pip and uses one construct, without app.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.wheel import build_wheel

REPO = Path(__file__).resolve().parents[2]

CONSUMER_APP = """
import json, sys
from pathlib import Path
import aws_cdk as cdk
from realtime_comments_cdk import CommentsStore, ConnectionsStore, FunctionDefaults, WebSocketApi

app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "ConsumerStack")
connections = ConnectionsStore(stack, "Connections")
comments = CommentsStore(stack, "Comments")
WebSocketApi(
    stack, "WebSocket",
    connections_table=connections.table,
    comments_table=comments.table,
    jwt_issuer="https://login.example.com/",
    jwt_audience="client-123",
    jwks_url="https://login.example.com/.well-known/jwks.json",
    allowed_origins=("https://app.example.com",),
    function_defaults=FunctionDefaults(layer_cache_dir=Path(sys.argv[2])),
)
app.synth()
"""


@pytest.fixture(scope="module")
def installed_site(tmp_path_factory) -> Path:
    """The wheel that `pip install <repo>` would install, unpacked as a site directory."""
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def test_wheel_ships_constructs_handler_code_and_layer_pins(installed_site: Path) -> None:
    for shipped in (
        "realtime_comments_cdk/websocket_api/README.md",
        "realtime_comments_cdk/functions/requirements.txt",
        "realtime_comments_cdk/functions/handlers/ws_connect.py",
        "realtime_comments_cdk/functions/realtime_comments/settings.py",
        "realtime_comments/settings.py",
        "realtime_comments_client/websocket_service.py",
    ):
        assert (installed_site / shipped).is_file(), shipped
    top_level = {path.name for path in installed_site.iterdir() if not path.name.endswith(".dist-info")}
    assert top_level == {"realtime_comments_cdk", "realtime_comments", "realtime_comments_client"}


def test_installed_construct_synthesizes_alone_with_its_handler_code(
    installed_site: Path, tmp_path: Path
) -> None:
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "consumer_app.py").write_text(CONSUMER_APP)
    outdir = tmp_path / "out"
    env = {
        **os.environ,
        # Only the unpacked wheel (and the venv's aws-cdk-lib), never this checkout, is importable.
        "PYTHONPATH": str(installed_site),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    subprocess.run(
        [sys.executable, "consumer_app.py", str(outdir), str(REPO / ".build" / "layers")],
        cwd=consumer,
        env=env,
        check=True,
        capture_output=True,
        timeout=240,
    )
    template = json.loads((outdir / "ConsumerStack.template.json").read_text())
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::DynamoDB::Table") == 2
    assert "AWS::ApiGatewayV2::Api" in types
    handlers = {
        resource["Properties"]["Handler"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert {"handlers.authorizer.handler", "handlers.ws_connect.handler"} <= handlers
    # The function code asset is the installed lambdas/ package, handlers included.
    asset_dirs = [path for path in outdir.glob("asset.*") if (path / "handlers").is_dir()]
    assert not (asset_dirs[0] / "requirements.txt").exists()
    assert asset_dirs and (asset_dirs[0] / "handlers" / "ws_connect.py").is_file()


def test_one_version_string(installed_site: Path) -> None:
    """The wheel's version is realtime_comments_cdk.__version__ and CHANGELOG.md's newest entry."""
    import re

    import realtime_comments_cdk

    (dist_info,) = installed_site.glob("realtime_comments-*.dist-info")
    metadata = (dist_info / "METADATA").read_text()
    assert f"Version: {realtime_comments_cdk.__version__}\n" in metadata
    changelog = (REPO / "CHANGELOG.md").read_text()
    newest = re.search(r"^## (\S+)", changelog, flags=re.M)
    assert newest is not None and newest.group(1) == realtime_comments_cdk.__version__
