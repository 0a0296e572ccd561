"""Benchmark: what our streaming path adds to a model's stream, per chunk and to the first token.

    python bench/model_stream.py [--chunks N] [--runs N] [--json]

A model server (bench/sse_model_server.py, its own process, speaking OpenAI's chat-completions SSE)
stamps every chunk with the monotonic clock when it writes it. Two readers take the same streams:

* the baseline reads the server directly: httpx, SSE lines, one JSON parse per chunk;
* ours runs a chatflow ``start -> llm -> answer`` on the engine with the ``openai_compat`` provider
  and takes the run's ``StreamChunk`` events: provider server -> provider plugin -> model manager ->
  llm node -> answer stream -> event sink. It runs twice: with the provider inline (the server's
  default placement for first-party model providers) and in the first-party plugin host, where each
  chunk also crosses the plugin socket.

Three figures, each ours minus the baseline:

* **time to first token**: from the start of the request (the baseline) or the run (ours) to the
  first chunk in hand;
* **latency per chunk** while the model streams at a human pace (chunks 2 ms apart): the median of
  (time in hand - time the server wrote it);
* **cost per chunk** when the server writes a long answer as fast as it can: (total time) / chunks.

Targets (issue 4): <= 1 ms added to the first token, <= 50 us added per chunk, at the server
defaults. The figures of the out-of-process placement show what the plugin process boundary costs:
on a VM, waking a sleeping process costs 100-300 us, and a chunk that crosses the socket wakes two.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from treadle.apps import RunRequest, WorkflowApp
from treadle.config import Settings
from treadle.graph.events import StreamChunk
from treadle.models import CredentialPick
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle.plugins.placement import FIRST_PARTY_GROUP, INLINE
from treadle_sdk.errors import PluginError
from treadle_sdk.spin import new_spinning_loop

HERE = Path(__file__).resolve().parent


def chatflow(model: str) -> dict[str, Any]:
    node = {"type": "llm", "title": "LLM", "model": {"provider": "openai_compat", "name": model, "mode": "chat",
                                                    "completion_params": {}},
            "prompt_template": [{"role": "user", "text": "{{#sys.query#}}"}],
            "context": {"enabled": False}, "vision": {"enabled": False}}
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
        {"id": "llm", "data": node},
        {"id": "answer", "data": {"type": "answer", "title": "Answer", "answer": "{{#llm.text#}}"}},
    ]
    edges = [
        {"id": "e1", "source": "start", "target": "llm", "sourceHandle": "source", "targetHandle": "target"},
        {"id": "e2", "source": "llm", "target": "answer", "sourceHandle": "source", "targetHandle": "target"},
    ]
    return {"nodes": nodes, "edges": edges}


class StaticCredentials:
    """The workspace credentials of the bench: the local server, for every call."""

    def __init__(self, url: str) -> None:
        self.pick_ = CredentialPick("bench", {"endpoint_url": url, "api_key": "bench-key"})

    async def pick(self, tenant_id: str, provider: str, model: str, model_type: str) -> CredentialPick | None:
        return self.pick_

    def report_failure(self, tenant_id: str, pick: CredentialPick, error: PluginError) -> bool:
        return False

    async def default_model(self, tenant_id: str, model_type: str) -> tuple[str, str] | None:
        return None


def stamps(text: str) -> list[int]:
    return [int(part) for part in text.split()]


class Timing:
    """One streamed answer as a reader saw it: when it started, and each chunk's send and arrival."""

    def __init__(self) -> None:
        self.started = 0
        self.sent: list[int] = []
        self.arrived: list[int] = []

    def add(self, text: str) -> None:
        now = time.monotonic_ns()
        for stamp in stamps(text):
            self.sent.append(stamp)
            self.arrived.append(now)

    @property
    def first_token_us(self) -> float:
        return (self.arrived[0] - self.started) / 1e3

    @property
    def median_latency_us(self) -> float:
        return statistics.median(a - s for a, s in zip(self.arrived, self.sent, strict=True)) / 1e3

    @property
    def total_us(self) -> float:
        return (self.arrived[-1] - self.started) / 1e3


async def direct(client: httpx.AsyncClient, url: str, model: str) -> Timing:
    timing = Timing()
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "go"}]}
    timing.started = time.monotonic_ns()
    async with client.stream("POST", f"{url}/chat/completions", json=body,
                             headers={"Authorization": "Bearer bench-key"}) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            content = json.loads(line[6:])["choices"][0]["delta"].get("content")
            if content:
                timing.add(content)
    return timing


async def through_treadle(app: WorkflowApp, supervisor: PluginSupervisor) -> Timing:
    timing = Timing()

    def on_event(event: Any) -> None:
        if isinstance(event, StreamChunk) and event.text:
            timing.add(event.text)

    with supervisor.kernel_client() as kernel:
        timing.started = time.monotonic_ns()
        result = await app.run(RunRequest(query="go"), on_event=on_event, kernel=kernel)
    if result.status != "succeeded":
        raise RuntimeError(f"the bench run failed: {result.error_type}: {result.error}")
    return timing


Reader = Callable[[str], Awaitable[Timing]]


async def measure(readers: dict[str, Reader], runs: int, model: str) -> dict[str, list[Timing]]:
    """``runs`` streams of ``model`` per reader, the readers taking turns run by run, so that a
    change in the machine's load while the bench runs weighs on all of them alike."""
    for _ in range(max(3, runs // 5)):
        for read in readers.values():
            await read(model)
    timings: dict[str, list[Timing]] = {name: [] for name in readers}
    for _ in range(runs):
        for name, read in readers.items():
            timings[name].append(await read(model))
    return timings


Figures = dict[str, dict[str, dict[str, float]]]
PLACEMENTS = [("process", FIRST_PARTY_GROUP), ("inline", INLINE)]


def summary(timings: list[Timing], chunks: int) -> dict[str, float]:
    return {
        "first_token_us": statistics.median(t.first_token_us for t in timings),
        "latency_us": statistics.median(t.median_latency_us for t in timings),
        "per_chunk_us": statistics.median(t.total_us for t in timings) / chunks,
    }


async def run(settings: Settings, url: str, chunks: int, paced: int, runs: int) -> Figures:
    burst_model, paced_model = f"bench-{chunks}-0", f"bench-{paced}-2000"
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))

        async def read_direct(model: str) -> Timing:
            return await direct(client, url, model)

        readers: dict[str, Reader] = {"direct": read_direct}
        for placement, group in PLACEMENTS:
            placed = settings.model_copy(deep=True)
            placed.plugins.placement["openai-compat"] = group
            supervisor = await stack.enter_async_context(PluginSupervisor(placed))
            supervisor.models.credentials = StaticCredentials(url)
            factory = PluginNodeFactory(supervisor)
            apps = {
                model: WorkflowApp(mode="advanced-chat", factory=factory, **chatflow(model))
                for model in (burst_model, paced_model)
            }

            async def read(
                model: str, sup: PluginSupervisor = supervisor, apps: dict[str, WorkflowApp] = apps
            ) -> Timing:
                return await through_treadle(apps[model], sup)

            readers[placement] = read
        burst = await measure(readers, runs, burst_model)
        pace = await measure(readers, runs, paced_model)
    return {
        name: {"burst": summary(burst[name], chunks), "paced": summary(pace[name], paced)} for name in readers
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000, help="chunks of the long, fast answer")
    parser.add_argument("--paced", type=int, default=50, help="chunks of the answer streamed 2 ms apart")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as home:
        port_file = Path(home) / "port"
        server = subprocess.Popen([sys.executable, str(HERE / "sse_model_server.py"), str(port_file)])
        try:
            deadline = time.monotonic() + 10
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the bench model server did not start")
                time.sleep(0.01)
            url = f"http://127.0.0.1:{port_file.read_text()}/v1"
            settings = Settings.load(home=home)
            with asyncio.Runner(loop_factory=lambda: new_spinning_loop(settings.server.loop_spin_us)) as runner:
                results = runner.run(run(settings, url, args.chunks, args.paced, args.runs))
        finally:
            server.terminate()
            server.wait(5)
    base = results["direct"]
    added = {
        placement: {
            "first_token_us": results[placement]["paced"]["first_token_us"] - base["paced"]["first_token_us"],
            "latency_per_chunk_us": results[placement]["paced"]["latency_us"] - base["paced"]["latency_us"],
            "cost_per_chunk_us": results[placement]["burst"]["per_chunk_us"] - base["burst"]["per_chunk_us"],
        }
        for placement in ("process", "inline")
    }
    if args.json:
        print(json.dumps({"results": results, "added": added}, indent=2))
        return
    print(f"{'reader':<10}{'first token us':>16}{'paced latency us':>18}{'burst us/chunk':>16}")
    for name, row in results.items():
        print(f"{name:<10}{row['paced']['first_token_us']:>16.0f}{row['paced']['latency_us']:>18.1f}"
              f"{row['burst']['per_chunk_us']:>16.1f}")
    for placement, row in added.items():
        print(f"added by treadle, provider {placement}: first token {row['first_token_us']:+.0f} us, "
              f"latency per chunk {row['latency_per_chunk_us']:+.1f} us, "
              f"cost per chunk {row['cost_per_chunk_us']:+.1f} us")
    default = added["inline"]
    print(f"targets (server defaults, provider inline): first token <= 1000 us "
          f"({default['first_token_us']:.0f}), per chunk <= 50 us ({default['latency_per_chunk_us']:.1f} paced, "
          f"{default['cost_per_chunk_us']:.1f} burst)")


if __name__ == "__main__":
    main()
