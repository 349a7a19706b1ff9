"""The suite's reports cross pytest-xdist's channel whatever the handlers under test logged."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_a_lone_surrogate_in_a_captured_log_line_still_reaches_the_controller(pytester, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        """
        import logging

        def test_logs_a_lone_surrogate():
            logging.getLogger("handler").warning("refused %s", "\\udc00")
        """
    )
    result = pytester.runpytest_subprocess("-n", "1", "-p", "tests.conftest", "-p", "no:cacheprovider")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
