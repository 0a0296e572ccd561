"""Benchmark: the workflow engine on graphs of trivial nodes, against Dify's own engine (graphon).

    python bench/engine.py [--json] [--repeats N] [--graphon-repeats N] [--graphon-venv DIR]

Graphs: a chain (start -> N trivial nodes in a row -> end) and a fan-out/fan-in (start -> N
trivial nodes in parallel -> one trivial join node -> end), for N = 10, 50, 200 and 1000, plus the
smallest run (start -> trivial -> end). ``trivial`` (bench/trivial_nodes.py) reads nothing and
outputs ``value = 1``; end outputs the last node's value.

Our engine runs every graph twice through ``PluginNodeFactory`` on the server's event loop: with
the trivial node type inline (the default placement of control-flow nodes, DESIGN.md) and out of
process (in a plugin host behind the supervisor). start and end are inline in both: the core-nodes
plugin's own if it registers them, else the stand-ins in bench/flow_nodes.py. The same graphs, as
the same DSL, then run on graphon 0.1.2 from PyPI in its own Python 3.12 virtual environment
(bench/graphon_runner.py; the environment is made on first use). Every figure is the median of
repeated runs after warm-up runs.

A run is timed from a fresh variable pool to its end, every event delivered to a sink. Building
the graph is not in it: ours compiles once per app version and reuses it; graphon, whose node
objects hold one run's state, builds it for every run, reported apart and not added to its run
time. Per-node overhead is the slope of run time against the number of trivial nodes over the four
sizes, fixed overhead its intercept (least squares on relative error, see ``fit_line``).

Targets (issue 3, default placement): per-node overhead at most 1/10 of graphon's, a 3-node run
under 1 ms, no fixed tail (fixed overhead under 1 ms; graphon's is ~100 ms), a 1000-node chain
under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import glob
import importlib.metadata
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The bench plugins load by import path, here and in the plugin host.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from treadle.config import Settings
from treadle.graph import CompiledWorkflow, RunLimits, VariablePool, WorkflowRun, build_graph, compile_workflow
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle_sdk.extensions import ExtensionKind
from treadle_sdk.host import load_registry
from treadle_sdk.spin import new_spinning_loop

BENCH = Path(__file__).resolve().parent
SIZES = (10, 50, 200, 1000)
SHAPES = ("chain", "fan")
SHAPE_NAMES = {"chain": "chain", "fan": "fan-out/in"}
ENGINES = ("inline", "process", "graphon")
ENGINE_NAMES = {"inline": "ours, inline", "process": "ours, out of process", "graphon": "graphon 0.1.2"}
SMALLEST = "3-node"

GRAPHON_VERSION = "0.1.2"
# Issue 3: graphon with --no-deps, then these (graphon's own pins drag in more than the engine needs).
GRAPHON_DEPENDENCIES = (
    "pydantic~=2.12.5",
    "pydantic-extra-types",
    "orjson",
    "httpx",
    "jsonschema",
    "json-repair",
    "pyyaml",
    "charset-normalizer",
    "typing-extensions",
)
CORE_NODES = PluginSpec("core-nodes", distribution="treadle-plugin-core-nodes")
FLOW_STAND_INS = PluginSpec("flow_nodes", path="flow_nodes")
TRIVIAL = PluginSpec("trivial_nodes", path="trivial_nodes")
# Every node is a step; the largest graph has 1003 nodes.
LIMITS = RunLimits(max_steps=100_000)
EXPECTED_OUTPUTS = {"result": 1}


# -- graphs (Dify DSL, the same for both engines) -------------------------------------------------


def _node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "data": {"type": node_type, "title": node_id, **data}}


def _edge(source: str, target: str) -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "target": target, "sourceHandle": "source"}


def _end(last: str) -> dict[str, Any]:
    return _node("end", "end", outputs=[{"variable": "result", "value_selector": [last, "value"]}])


def chain_graph(size: int) -> dict[str, Any]:
    """start -> t0 -> ... -> t{size-1} -> end."""
    ids = [f"t{i}" for i in range(size)]
    nodes = [_node("start", "start", variables=[]), *(_node(i, "trivial") for i in ids), _end(ids[-1])]
    path = ["start", *ids, "end"]
    return {"nodes": nodes, "edges": [_edge(a, b) for a, b in itertools.pairwise(path)]}


def fan_graph(size: int) -> dict[str, Any]:
    """start -> t0 .. t{size-1} in parallel -> join -> end."""
    ids = [f"t{i}" for i in range(size)]
    nodes = [_node("start", "start", variables=[]), *(_node(i, "trivial") for i in ids), _node("join", "trivial"),
             _end("join")]
    edges = [*(_edge("start", i) for i in ids), *(_edge(i, "join") for i in ids), _edge("join", "end")]
    return {"nodes": nodes, "edges": edges}


def cases() -> dict[str, tuple[dict[str, Any], int]]:
    """Each case's graph and its number of trivial nodes (the x of the per-node fit)."""
    found: dict[str, tuple[dict[str, Any], int]] = {SMALLEST: (chain_graph(1), 1)}
    for size in SIZES:
        found[f"chain/{size}"] = (chain_graph(size), size)
        found[f"fan/{size}"] = (fan_graph(size), size + 1)
    return found


# -- our engine ---------------------------------------------------------------------------------


def flow_plugin() -> tuple[PluginSpec, str]:
    """The first-party core-nodes plugin if it registers start and end, else the bench stand-ins."""
    registry = load_registry([CORE_NODES.name], [])
    if {"start", "end"} <= set(registry.extensions.names(ExtensionKind.NODE_TYPE)):
        return CORE_NODES, "core-nodes plugin"
    return FLOW_STAND_INS, "bench stand-ins (bench/flow_nodes.py): core-nodes registers no start/end yet"


async def time_runs(compiled: CompiledWorkflow, warmup: int, repeats: int) -> list[float]:
    """Seconds per run: a fresh pool, a WorkflowRun with an event sink, run to the end."""
    samples = []
    gc.collect()  # garbage of the previous case is not this case's cost
    for index in range(warmup + repeats):
        started = time.perf_counter()
        events: list[Any] = []
        run = WorkflowRun(compiled, VariablePool.for_run(), limits=LIMITS, on_event=events.append)
        result = await run.run()
        elapsed = time.perf_counter() - started
        if result.status != "succeeded" or result.outputs != EXPECTED_OUTPUTS:
            raise RuntimeError(f"run failed: {result.status} {result.error_type} {result.error} {result.outputs}")
        if index >= warmup:
            samples.append(elapsed)
    return samples


async def measure_ours(
    settings: Settings, flow: PluginSpec, graphs: dict[str, tuple[dict[str, Any], int]], warmup: int, repeats: int
) -> dict[str, dict[str, dict[str, Any]]]:
    plans = {
        "inline": [GroupPlan("inline", True, (flow, TRIVIAL))],
        "process": [GroupPlan("inline", True, (flow,)), GroupPlan("bench", False, (TRIVIAL,))],
    }
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for placement, groups in plans.items():
        async with PluginSupervisor(settings, groups=groups) as supervisor:
            factory = PluginNodeFactory(supervisor)
            results[placement] = {}
            for name, (dsl, _) in graphs.items():
                builds = []
                for _ in range(3):
                    started = time.perf_counter()
                    compiled = compile_workflow(build_graph(dsl["nodes"], dsl["edges"]), factory)
                    builds.append(time.perf_counter() - started)
                runs = await time_runs(compiled, warmup, repeats)
                results[placement][name] = {"run_s": runs, "build_s": builds}
    return results


# -- graphon ------------------------------------------------------------------------------------


def default_graphon_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "treadle-bench" / "graphon-venv"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _is_python312(python: str) -> bool:
    try:
        probe = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True, text=True, check=False,
        )
    except OSError:
        return False
    return probe.stdout.strip() == "True"


def find_python312(explicit: str | None) -> str:
    """A Python 3.12 that runs: the one given, else python3.12 on PATH, else one pyenv installed
    (pyenv's shim is on PATH even when 3.12 is not the active version, so each is tried)."""
    if explicit:
        candidates = [explicit]
    else:
        pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
        installed = sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.12*", "bin", "python3.12")), reverse=True)
        candidates = [found for found in (shutil.which("python3.12"),) if found] + installed
    for candidate in candidates:
        if _is_python312(candidate):
            return candidate
    raise SystemExit(
        "graphon needs Python 3.12: put python3.12 on PATH, install it with pyenv, or pass --python312 "
        f"(tried: {', '.join(candidates) or 'nothing found'})"
    )


def _graphon_installed(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import graphon, importlib.metadata as m; print(m.version('graphon'))"],
        capture_output=True, text=True, check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == GRAPHON_VERSION


def ensure_graphon_venv(venv: Path, python312: str | None) -> Path:
    """The venv's python, after making the venv and installing graphon into it if needed."""
    python = venv_python(venv)
    if _graphon_installed(python):
        return python
    interpreter = find_python312(python312)
    print(f"making graphon's virtual environment in {venv} with {interpreter} (once)", file=sys.stderr)
    steps = [
        [interpreter, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", f"graphon=={GRAPHON_VERSION}"],
        [str(python), "-m", "pip", "install", "--quiet", *GRAPHON_DEPENDENCIES],
    ]
    for step in steps:
        # pip's output goes to stderr so that --json keeps stdout clean.
        subprocess.run(step, check=True, stdout=sys.stderr)
    if not _graphon_installed(python):
        raise SystemExit(f"graphon {GRAPHON_VERSION} did not install into {venv}")
    return python


def measure_graphon(
    python: Path, graphs: dict[str, tuple[dict[str, Any], int]], warmup: int, repeats: int
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    request = {
        "cases": [
            {"name": name, "graph": dsl, "warmup": warmup, "repeats": repeats} for name, (dsl, _) in graphs.items()
        ]
    }
    done = subprocess.run(
        [str(python), str(BENCH / "graphon_runner.py")],
        input=json.dumps(request), capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"graphon runner failed:\n{done.stderr}")
    answer = json.loads(done.stdout)
    for name, case in answer["cases"].items():
        if case["outputs"] != EXPECTED_OUTPUTS:
            raise SystemExit(f"graphon case {name} gave {case['outputs']}, not {EXPECTED_OUTPUTS}")
    versions = {key: answer[key] for key in ("python", "graphon", "pydantic", "recursion_limit")}
    return answer["cases"], versions


# -- figures ------------------------------------------------------------------------------------


def fit_line(xs: list[int], ys: list[float]) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through the points, each weighted by 1/y²
    (least relative error): timing noise grows with the run, and with equal weights the largest
    graph alone would decide the intercept, that is the fixed overhead."""
    weights = [1 / y**2 for y in ys]
    s = sum(weights)
    sx = sum(w * x for w, x in zip(weights, xs, strict=True))
    sy = sum(w * y for w, y in zip(weights, ys, strict=True))
    sxx = sum(w * x * x for w, x in zip(weights, xs, strict=True))
    sxy = sum(w * x * y for w, x, y in zip(weights, xs, ys, strict=True))
    slope = (s * sxy - sx * sy) / (s * sxx - sx * sx)
    return slope, (sy - slope * sx) / s


def summarize(
    samples: dict[str, dict[str, Any]], graphs: dict[str, tuple[dict[str, Any], int]]
) -> dict[str, Any]:
    """Medians per case, and per shape the fitted per-node and fixed overhead."""
    medians = {name: statistics.median(case["run_s"]) for name, case in samples.items()}
    builds = {name: statistics.median(case["build_s"]) for name, case in samples.items()}
    fits = {}
    for shape in SHAPES:
        xs = [graphs[f"{shape}/{size}"][1] for size in SIZES]
        ys = [medians[f"{shape}/{size}"] for size in SIZES]
        slope, intercept = fit_line(xs, ys)
        fits[shape] = {
            "per_node_us": slope * 1e6,
            "fixed_ms": intercept * 1e3,
            "per_node_two_point_us": (ys[-1] - ys[0]) / (xs[-1] - xs[0]) * 1e6,
        }
    return {
        "median_run_ms": {name: value * 1e3 for name, value in medians.items()},
        "median_build_ms": {name: value * 1e3 for name, value in builds.items()},
        "fit": fits,
        "three_node_ms": medians[SMALLEST] * 1e3,
        "chain_1000_ms": medians["chain/1000"] * 1e3,
        "repeats": len(samples[SMALLEST]["run_s"]),
    }


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    found = {}
    for shape in SHAPES:
        found[f"per_node_{shape}"] = ours["fit"][shape]["per_node_us"] / theirs["fit"][shape]["per_node_us"]
        found[f"fixed_{shape}"] = ours["fit"][shape]["fixed_ms"] / theirs["fit"][shape]["fixed_ms"]
    found["three_node"] = ours["three_node_ms"] / theirs["three_node_ms"]
    found["chain_1000"] = ours["chain_1000_ms"] / theirs["chain_1000_ms"]
    return found


def targets(ours: dict[str, Any], theirs: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 3's benchmark targets, for the default placement (inline)."""
    per_node = {shape: ours["fit"][shape]["per_node_us"] for shape in SHAPES}
    their_per_node = {shape: theirs["fit"][shape]["per_node_us"] for shape in SHAPES}
    fixed = {shape: ours["fit"][shape]["fixed_ms"] for shape in SHAPES}
    their_fixed = {shape: theirs["fit"][shape]["fixed_ms"] for shape in SHAPES}
    return [
        {
            "target": "per-node overhead <= 1/10 of graphon's",
            "measured": ", ".join(
                f"{SHAPE_NAMES[s]} {per_node[s]:.1f} us vs {their_per_node[s]:.0f} us "
                f"({per_node[s] / their_per_node[s]:.3f})"
                for s in SHAPES
            ),
            "met": all(per_node[s] <= their_per_node[s] / 10 for s in SHAPES),
            "values": {"ours_us": per_node, "graphon_us": their_per_node},
        },
        {
            "target": "3-node run end to end < 1 ms",
            "measured": f"{ours['three_node_ms']:.3f} ms",
            "met": ours["three_node_ms"] < 1.0,
            "values": {"ours_ms": ours["three_node_ms"], "limit_ms": 1.0},
        },
        {
            "target": "no fixed tail: fixed overhead < 1 ms (graphon ~100 ms)",
            "measured": ", ".join(
                f"{SHAPE_NAMES[s]} {fixed[s]:.3f} ms vs {their_fixed[s]:.0f} ms" for s in SHAPES
            ),
            "met": all(fixed[s] < 1.0 for s in SHAPES),
            "values": {"ours_ms": fixed, "graphon_ms": their_fixed, "limit_ms": 1.0},
        },
        {
            "target": "1000-node chain < 50 ms",
            "measured": f"{ours['chain_1000_ms']:.1f} ms",
            "met": ours["chain_1000_ms"] < 50.0,
            "values": {"ours_ms": ours["chain_1000_ms"], "limit_ms": 50.0},
        },
    ]


def _ratio(value: float) -> str:
    if not 0 < value < 1:
        return f"{value:.2f}"
    inverse = 1 / value
    return f"{value:.3f} (1/{inverse:.1f})" if inverse < 10 else f"{value:.3f} (1/{inverse:.0f})"


def print_report(report: dict[str, Any]) -> None:
    summary = report["summary"]
    setup = report["setup"]
    print(
        f"Engine benchmark: trivial nodes; medians of {summary['inline']['repeats']} runs "
        f"(graphon {summary['graphon']['repeats']}) after {setup['warmup']} warm-up runs"
    )
    print(
        f"ours: Python {setup['python']}, server loop spin {setup['loop_spin_us']:g} us, "
        f"host spin {setup['host_spin_us']:g} us; start/end: {setup['flow_nodes']}"
    )
    print(
        f"graphon {setup['graphon']['graphon']}: Python {setup['graphon']['python']}, "
        f"pydantic {setup['graphon']['pydantic']}, recursion limit {setup['graphon']['recursion_limit']}, "
        f"venv {setup['graphon_venv']}"
    )
    print()
    header = "".join(f"{size:>10}" for size in SIZES)
    print(f"{'run time, ms (trivial nodes: N)':<36}{header}")
    for engine in ENGINES:
        for shape in SHAPES:
            cells = "".join(f"{summary[engine]['median_run_ms'][f'{shape}/{size}']:>10.2f}" for size in SIZES)
            print(f"{ENGINE_NAMES[engine] + ', ' + SHAPE_NAMES[shape]:<36}{cells}")
    print()
    print(f"{'':<26}{'per node, us':>22}{'fixed, ms':>22}{'3-node run':>12}{'1000 chain':>12}")
    print(f"{'':<26}{'chain':>11}{'fan':>11}{'chain':>11}{'fan':>11}{'ms':>12}{'ms':>12}")
    for engine in ENGINES:
        s = summary[engine]
        print(
            f"{ENGINE_NAMES[engine]:<26}"
            f"{s['fit']['chain']['per_node_us']:>11.1f}{s['fit']['fan']['per_node_us']:>11.1f}"
            f"{s['fit']['chain']['fixed_ms']:>11.3f}{s['fit']['fan']['fixed_ms']:>11.3f}"
            f"{s['three_node_ms']:>12.3f}{s['chain_1000_ms']:>12.1f}"
        )
    print()
    print("ours / graphon (below 1: ours is faster)")
    for engine in ("inline", "process"):
        r = report["ratios"][engine]
        print(
            f"  {ENGINE_NAMES[engine]:<22} per node: chain {_ratio(r['per_node_chain'])}, "
            f"fan {_ratio(r['per_node_fan'])}; "
            f"fixed: chain {_ratio(r['fixed_chain'])}, fan {_ratio(r['fixed_fan'])}; "
            f"3-node run {_ratio(r['three_node'])}; 1000-node chain {_ratio(r['chain_1000'])}"
        )
    print()
    builds = {engine: summary[engine]["median_build_ms"]["chain/1000"] for engine in ENGINES}
    print(
        f"building the 1000-node chain (not in the run times): ours {builds['inline']:.1f} ms inline, "
        f"{builds['process']:.1f} ms out of process, once per app version; graphon {builds['graphon']:.1f} ms, "
        "for every run"
    )
    print()
    print("targets (issue 3, default placement: inline)")
    for target in report["targets"]:
        print(f"  [{'met' if target['met'] else 'NOT MET'}] {target['target']}: {target['measured']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    parser.add_argument("--repeats", type=int, default=21, help="timed runs per graph on our engine")
    parser.add_argument("--graphon-repeats", type=int, default=9, help="timed runs per graph on graphon (~0.1 s each)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per graph first")
    parser.add_argument("--graphon-venv", type=Path, default=default_graphon_venv(),
                        help="graphon's virtual environment, made there if missing (default: %(default)s)")
    parser.add_argument("--python312", help="the Python 3.12 to make graphon's environment with")
    args = parser.parse_args()

    graphon_python = ensure_graphon_venv(args.graphon_venv, args.python312)
    graphs = cases()
    flow, flow_source = flow_plugin()
    samples: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as home:
        settings = Settings.load(home=home)
        # The event loop the server runs on (treadle.server), so the figures are the server's.
        with asyncio.Runner(loop_factory=lambda: new_spinning_loop(settings.server.loop_spin_us)) as runner:
            samples.update(runner.run(measure_ours(settings, flow, graphs, args.warmup, args.repeats)))
    samples["graphon"], graphon_versions = measure_graphon(graphon_python, graphs, args.warmup, args.graphon_repeats)

    summary = {engine: summarize(samples[engine], graphs) for engine in ENGINES}
    report = {
        "setup": {
            "python": platform.python_version(),
            "treadle": importlib.metadata.version("treadle-kernel"),
            "loop_spin_us": settings.server.loop_spin_us,
            "host_spin_us": settings.plugins.host_spin_us,
            "flow_nodes": flow_source,
            "warmup": args.warmup,
            "graphon": graphon_versions,
            "graphon_venv": str(args.graphon_venv),
            "trivial_nodes": {name: count for name, (_, count) in graphs.items()},
        },
        "summary": summary,
        "ratios": {engine: ratios(summary[engine], summary["graphon"]) for engine in ("inline", "process")},
        "targets": targets(summary["inline"], summary["graphon"]),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
