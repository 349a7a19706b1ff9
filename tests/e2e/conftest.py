"""Fixtures for the end-to-end tests: the local runtime on free loopback ports.

The app is synthesized once per session into a temporary cdk.out (so a concurrent `make synth`
cannot race the tests); set E2E_CDK_OUT to reuse an existing one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runtime.process import RuntimeProcess, synthesize

_RUNTIME_FIXTURES = {"runtime", "urls", "cdk_out", "generic"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start the runtime are `e2e`; the unit tests of local_runtime in here are not."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here) and _RUNTIME_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("E2E_CDK_OUT")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    synthesize(out, ("dev",))
    return out


@pytest.fixture(scope="session")
def runtime(cdk_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    state = tmp_path_factory.mktemp("state")
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("<html>home</html>")
    (site / "posts").mkdir()
    (site / "posts" / "first.html").write_text("<html>post</html>")
    (site / "404.html").write_text("<html>missing</html>")
    rt = RuntimeProcess(
        state, cdk_out, fresh=True, frontend=True, extra=["--wait-warm", "--frontend-dir", str(site)]
    )
    rt.start()
    yield rt
    rt.stop()


@pytest.fixture(scope="session")
def urls(runtime: RuntimeProcess) -> dict[str, str]:
    return runtime.urls
