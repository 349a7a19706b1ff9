"""The cloud-side pictures of ``make bench`` (matplotlib), drawn from one run's raw figures:

* ``fanout-vs-n.png``: seconds to deliver one message to N recipients (send phase; the 100,000
  point goes through SQS and the fan-out workers) for ours, the urllib3 candidate and the
  one-process reference, next to the sink's floor N / rate;
* ``coldstart.png``: CPU of import + init per function against the bare boto3 handler, with the
  1.3x line;
* ``memory-curve.png``: billed cost per million invocations against memory size per function
  (``benchmarks.cost``'s model), the chosen sizes marked.
"""

from __future__ import annotations

import os
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fanout_vs_n(fanout: dict[str, Any], sqs: dict[str, Any] | None, path: str) -> None:
    plt = _pyplot()
    rate = float(fanout.get("rate") or 10_000)
    series: dict[str, list[tuple[int, float]]] = {}
    for run in fanout.get("runs", []):
        if run["variant"] == "baseline" or "send_s" not in run:
            continue
        series.setdefault(run["variant"], []).append((run["n"], run["send_s"]))
    if sqs:
        for run in sqs.get("runs", []):
            series.setdefault("ours: SQS batches + 2 fanout_worker processes", []).append(
                (sqs["n"], run["seconds"])
            )
        if sqs.get("reference_s"):
            series.setdefault("reference: 1 process deliver(), no queue", []).append(
                (sqs["n"], sqs["reference_s"])
            )
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for label, points in series.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ns = sorted({p[0] for points in series.values() for p in points})
    if ns:
        ax.plot(ns, [n / rate for n in ns], ":", color="gray", label=f"floor: N / {rate:,.0f} per s")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("recipients N")
    ax.set_ylabel("seconds to deliver one message to all (send phase)")
    ax.set_title("Fan-out time against N (same run, 10 ms sink latency)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def coldstart(cold: dict[str, Any], path: str) -> None:
    plt = _pyplot()
    modules = cold.get("modules", {})
    names = list(modules)
    bare_ms = cold["bare_cpu_s"] * 1000
    fig, ax = plt.subplots(figsize=(11, 5), dpi=110)
    imports = [modules[m]["import_cpu_s"] * 1000 for m in names]
    inits = [modules[m]["init_cpu_s"] * 1000 for m in names]
    ax.barh(names, imports, label="import")
    ax.barh(names, inits, left=imports, label="init (settings, clients)")
    ax.axvline(bare_ms, color="black", label=f"bare boto3 handler {bare_ms:.0f} ms")
    ax.axvline(bare_ms * 1.3, color="red", linestyle="--", label="target 1.3x bare")
    for y, m in enumerate(names):
        ax.text(modules[m]["cpu_s"] * 1000 + 3, y, f"{modules[m]['ratio']:.2f}x", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("CPU ms of import + init, median of fresh processes (tracing as deployed)")
    ax.set_title("Cold start per function against a bare boto3 handler (same run)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def memory_curve(cost: dict[str, Any], path: str, arch: str = "arm64") -> None:
    plt = _pyplot()
    curves = cost.get(f"memory_curve_{arch}", {})
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for function, curve in curves.items():
        xs = [p["memory_mb"] for p in curve["points"]]
        ys = [p["usd_per_million"] for p in curve["points"]]
        line = ax.plot(xs, ys, marker="o", label=function)[0]
        chosen = next(p for p in curve["points"] if p["memory_mb"] == curve["chosen_mb"])
        ax.plot(
            [chosen["memory_mb"]], [chosen["usd_per_million"]], "*", markersize=14, color=line.get_color()
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks([128, 256, 512, 1024, 1769, 3008], ["128", "256", "512", "1024", "1769", "3008"])
    ax.set_xlabel("memory MB (vCPU share = MB / 1769)")
    ax.set_ylabel(f"USD per million invocations ({arch}, us-east-1)")
    ax.set_title("Billed cost against memory size per function; * = chosen (StageConfig)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def draw(raw: dict[str, Any], log: Any = print) -> list[str]:
    """Every picture whose figures this run has; returns the paths written."""
    written = []
    if raw.get("fanout", {}).get("runs"):
        path = os.path.join(HERE, "fanout-vs-n.png")
        fanout_vs_n(raw["fanout"], raw.get("sqs_fanout"), path)
        written.append(path)
    if raw.get("coldstart", {}).get("modules"):
        path = os.path.join(HERE, "coldstart.png")
        coldstart(raw["coldstart"], path)
        written.append(path)
    if raw.get("cost", {}).get("memory_curve_arm64"):
        path = os.path.join(HERE, "memory-curve.png")
        memory_curve(raw["cost"], path)
        written.append(path)
    for path in written:
        log(f"wrote {os.path.relpath(path, os.path.dirname(HERE))}")
    return written
