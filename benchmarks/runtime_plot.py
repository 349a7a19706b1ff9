"""``benchmarks/runtime-latency.png``: POST-to-receipt latency (p50, p99) against the offered
deliveries/s of the load ladder, for the current and the reference local runtime (benchmarks/e2e.py)."""

from __future__ import annotations

from typing import Any

P99_TARGET_MS = 250.0


def plot(
    runtimes: list[dict[str, Any]], path: str, ladder_steps: list[tuple[int, float]] | None = None
) -> None:
    """``runtimes``: e2e.measure() results; ``ladder_steps``: the whole ladder (the x axis spans it, so
    where a runtime stopped stepping shows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    ladder = [{"offered_per_s": n * rate} for n, rate in ladder_steps or []]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colors = {"current": "tab:blue", "reference": "tab:red", "floor": "tab:gray"}
    drawn = False
    for r in runtimes:
        steps = [s for s in r.get("steps") or [] if "received" in s and s["received"]]
        if not steps:
            continue
        drawn = True
        x = [s["offered_per_s"] for s in steps]
        color = colors.get(r["kind"], "tab:gray")
        name = "ours (current)" if r["kind"] == "current" else r.get("label", r["kind"])
        for key, style, marker in (("p50_s", "--", "o"), ("p99_s", "-", "s")):
            y = [s[key] * 1000 for s in steps]
            ax.plot(x, y, style, color=color, marker=marker, label=f"{name} {key[:3]}")
        # failing steps (lost deliveries or p99 over the target) are circled
        bad = [s for s in steps if not s.get("passed")]
        if bad:
            xs = [s["offered_per_s"] for s in bad]
            ys = [s["p99_s"] * 1000 for s in bad]
            ax.scatter(xs, ys, s=180, facecolors="none", edgecolors=color, linewidths=1.5)
    ax.axhline(P99_TARGET_MS, color="gray", linestyle=":", label="p99 target 250 ms")
    ax.set_xscale("log")
    offered = sorted(
        {s["offered_per_s"] for s in ladder}
        | {s["offered_per_s"] for r in runtimes for s in r.get("steps") or []}
    )
    ax.set_xticks(offered, [f"{x:,.0f}" for x in offered])
    ax.minorticks_off()
    ax.set_xlim(offered[0] / 1.3, offered[-1] * 1.3)
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(
        FuncFormatter(lambda value, _pos: f"{value:g}" if str(value)[0] in "25" else "")
    )
    ax.set_xlabel("offered deliveries/s (clients x comments/s)")
    ax.set_ylabel("POST start -> comment.created at the client (ms)")
    ax.set_title(
        "Local runtime end to end: latency vs offered load\n"
        "(circled: the step failed; a runtime stops at its first failure)",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
