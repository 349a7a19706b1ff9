"""Lambda event filtering (FilterCriteria): the EventBridge pattern subset Lambda supports.

A record is delivered when it matches any filter; a pattern matches when every key matches.
Leaf lists hold alternatives: plain values (equality), ``{"prefix"}``, ``{"suffix"}``,
``{"anything-but"}``, ``{"numeric"}``, ``{"exists"}``, ``{"equals-ignore-case"}``.
For SQS, a JSON ``body`` is matched as an object (as Lambda does).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

_MISSING = object()


def _match_leaf(cond: Any, value: Any) -> bool:
    if isinstance(cond, dict):
        ((op, arg),) = cond.items()
        if op == "exists":
            return (value is not _MISSING) == bool(arg)
        if value is _MISSING:
            return op == "anything-but"
        if op == "prefix":
            return isinstance(value, str) and value.startswith(
                arg if isinstance(arg, str) else arg.get("equals-ignore-case", "")
            )
        if op == "suffix":
            return isinstance(value, str) and value.endswith(arg)
        if op == "equals-ignore-case":
            return isinstance(value, str) and value.lower() == str(arg).lower()
        if op == "anything-but":
            if isinstance(arg, dict):
                return not _match_leaf(arg, value)
            opts = arg if isinstance(arg, list) else [arg]
            return value not in opts
        if op == "numeric":
            try:
                num = float(value)
            except (TypeError, ValueError):
                return False
            ok = True
            for i in range(0, len(arg), 2):
                o, n = arg[i], float(arg[i + 1])
                ok &= {"=": num == n, "<": num < n, "<=": num <= n, ">": num > n, ">=": num >= n}[o]
            return ok
        return False
    return value is not _MISSING and value == cond


def matches(pattern: dict[str, Any], event: Any) -> bool:
    for key, cond in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(cond, dict):
            if value is _MISSING or not matches(cond, value):
                return False
        elif isinstance(cond, list):
            values = value if isinstance(value, list) else [value]
            if not any(_match_leaf(c, v) for c in cond for v in values):
                return False
        else:
            return False
    return True


def compile_filters(filter_criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for f in (filter_criteria or {}).get("Filters") or []:
        pat = f.get("Pattern")
        if isinstance(pat, str):
            pat = json.loads(pat)
        if isinstance(pat, dict):
            out.append(pat)
    return out


def record_passes(filters: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    if not filters:
        return True
    subject = record
    if "body" in record and isinstance(record.get("body"), str):
        with contextlib.suppress(ValueError):
            subject = {**record, "body": json.loads(record["body"])}
    return any(matches(p, subject) for p in filters)
