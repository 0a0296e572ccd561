"""Benchmark: a no-op tool call inline vs out of process (p50, p99, calls/s, and their ratio).

    python bench/plugin_calls.py [--calls N] [--json]

Both placements run in this one process run, against the same plugin (bench/noop_plugin.py), through
the supervisor's public ``invoke``: inline, the plugin runs in this process; out of process, in a
``treadle_sdk.host`` process over its Unix socket. Each placement is measured for a non-blocking
tool (runs on the host's event loop) and a blocking one (runs in a worker thread, the default for
plain plugin code). Targets (issue 2): out of process p50 <= 300 us, p99 <= 2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.server import kernel_loop

PLUGIN = "noop_plugin"


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def measure(supervisor: PluginSupervisor, provider: str, calls: int, warmup: int) -> dict[str, float]:
    payload = {"tool": "noop", "parameters": {"text": "x"}}
    for _ in range(warmup):
        await supervisor.call("tool_provider", provider, "invoke_tool", payload)
    timings = []
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        result = await supervisor.call("tool_provider", provider, "invoke_tool", payload)
        timings.append(time.perf_counter() - t0)
        assert result[0].text == "x"
    elapsed = time.perf_counter() - started
    timings.sort()
    return {
        "p50_us": percentile(timings, 0.50) * 1e6,
        "p99_us": percentile(timings, 0.99) * 1e6,
        "mean_us": statistics.fmean(timings) * 1e6,
        "calls_per_s": calls / elapsed,
    }


async def run(settings: Settings, calls: int, warmup: int) -> dict[str, dict[str, float]]:
    spec = PluginSpec(PLUGIN, path=PLUGIN)
    results: dict[str, dict[str, float]] = {}
    for placement, group in (("inline", GroupPlan("inline", True, (spec,))),
                             ("process", GroupPlan("bench", False, (spec,)))):
        async with PluginSupervisor(settings, groups=[group]) as supervisor:
            results[f"{placement}/nonblocking"] = await measure(supervisor, "bench-noop", calls, warmup)
            results[f"{placement}/blocking"] = await measure(supervisor, "bench-noop-blocking", calls, warmup)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--spin-us", type=float, help="override [server] loop_spin_us and [plugins] host_spin_us (0: no polling)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as home:
        settings = Settings.load(home=home)
        if args.spin_us is not None:
            settings.server.loop_spin_us = settings.plugins.host_spin_us = args.spin_us
        # The event loop the server runs on (treadle.server), so the figures are the server's.
        with asyncio.Runner(loop_factory=lambda: kernel_loop(settings)) as runner:
            results = runner.run(run(settings, args.calls, args.warmup))
    ratios = {
        kind: results[f"process/{kind}"]["p50_us"] / results[f"inline/{kind}"]["p50_us"]
        for kind in ("nonblocking", "blocking")
    }
    spin = {"loop_spin_us": settings.server.loop_spin_us, "host_spin_us": settings.plugins.host_spin_us}
    if args.json:
        print(json.dumps({"results": results, "p50_ratio_process_over_inline": ratios, **spin}, indent=2))
        return
    print(f"event loops poll before sleeping: server {spin['loop_spin_us']:g} us, host {spin['host_spin_us']:g} us")
    print(f"{'placement':<24}{'p50 us':>10}{'p99 us':>10}{'mean us':>10}{'calls/s':>10}")
    for name, row in results.items():
        print(f"{name:<24}{row['p50_us']:>10.0f}{row['p99_us']:>10.0f}{row['mean_us']:>10.0f}{row['calls_per_s']:>10.0f}")
    for kind, ratio in ratios.items():
        print(f"p50 ratio process/inline ({kind}): {ratio:.1f}x")
    process = results["process/nonblocking"]
    print(f"target out of process: p50 <= 300 us ({process['p50_us']:.0f}), p99 <= 2000 us ({process['p99_us']:.0f})")


if __name__ == "__main__":
    main()
