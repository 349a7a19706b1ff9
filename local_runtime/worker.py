"""A warm Lambda worker: one process per function instance (the 'execution environment').

Started by ``functions.FunctionPool`` as ``python -u worker.py`` with the function's own
environment. It imports the handler once (the init phase), then serves invocations read from
stdin as JSON lines and answers on the original stdout. Anything the handler prints goes to
stderr, which the runtime forwards to its log prefixed with the function name.

This file must import nothing from ``local_runtime``: it runs with the code asset first on
``sys.path`` and the venv's site-packages after it, like a Lambda runtime.
"""

import importlib
import json
import os
import signal
import sys
import time
import traceback

# Drop this script's directory from sys.path (it is not part of the function's code).
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)
CODE_DIR = os.environ.get("LAMBDA_TASK_ROOT", "")
if CODE_DIR:
    sys.path.insert(0, CODE_DIR)
    os.chdir(CODE_DIR)

# Ctrl-C belongs to the runtime, which stops its workers itself (in their own session anyway).
signal.signal(signal.SIGINT, signal.SIG_IGN)

_proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)  # handler output (print) -> stderr
sys.stdout = sys.stderr


class LambdaContext:
    # What does not change between invocations is read from the environment once per worker.
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    invoked_function_arn = os.environ.get("LOCAL_FUNCTION_ARN", "")
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
    log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
    identity = None
    client_context = None
    tenant_id = None

    def __init__(self, request_id: str, deadline_ms: float):
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _user_frames(tb):  # type: ignore[no-untyped-def]
    """Drop this worker's own frames, as Lambda's runtime does in its stack traces."""
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def _error(exc: BaseException, error_type: str | None = None) -> dict:
    return {
        "ok": False,
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__)),
    }


def _send(msg: dict) -> None:
    _proto.write(json.dumps(msg) + "\n")
    _proto.flush()


def main() -> None:
    handler_spec = os.environ["_HANDLER"]
    module_name, _, func_name = handler_spec.rpartition(".")
    init_error = None
    handler = None
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        handler = getattr(module, func_name)
    except Exception as exc:  # noqa: BLE001 - reported to the runtime like Lambda's init error
        init_error = _error(exc, "Runtime.ImportModuleError")
        traceback.print_exc()
    _send(
        {"ready": True, "initMs": round((time.perf_counter() - started) * 1000, 1), "initError": init_error}
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if init_error is not None:
            _send({"id": req["id"], **init_error})
            continue
        ctx = LambdaContext(req["requestId"], req["deadlineMs"])
        os.environ["_X_AMZN_TRACE_ID"] = req.get("traceId", "")
        try:
            result = handler(req["event"], ctx)  # type: ignore[misc]
            try:
                payload = json.dumps({"id": req["id"], "ok": True, "result": result})
            except (TypeError, ValueError) as exc:
                _send({"id": req["id"], **_error(exc, "Runtime.MarshalError")})
                continue
            _proto.write(payload + "\n")
            _proto.flush()
        except Exception as exc:  # noqa: BLE001 - a handler error is a result, not a crash
            # The runtime logs the stack trace it receives (at ERROR level, even with --quiet-functions).
            _send({"id": req["id"], **_error(exc)})


if __name__ == "__main__":
    main()
