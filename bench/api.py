"""Benchmark: the Service API over HTTP against a real server, on SQLite and on PostgreSQL.

    python bench/api.py [--json] [--backends sqlite,postgres] [--levels 1,10,100] [--requests N]

Each backend gets a server of its own: ``treadle serve --port 0`` as a subprocess with a fresh
TREADLE_HOME (SQLite, the default) or with ``TREADLE_DATABASE__URL`` naming a PostgreSQL database
made for the run and dropped after it. The apps are set up with the CLI (``treadle app import``,
``publish``, ``key``) against the same home before the server starts, so the server runs with its
default plugins and placement, as an operator would run it.

Clients are in this process (a lean hand-written HTTP/1.1 client, one keep-alive connection per
client: httpx would cost more CPU than the server on a 2-CPU machine), N concurrent clients
each sending requests one after the other. Measured at 1, 10 and 100 concurrent clients:

- ``workflow``: blocking ``POST /workflows/run`` of a 3-node workflow (start -> template-transform ->
  end, as in tests/api/service/test_generation.py): runs per second, latency p50/p95/p99;
- ``chat SSE``: streaming ``POST /chat-messages`` of a chat app on the fake model (``fake:echo``):
  time to the first event and to the end of the stream (p50/p95/p99), streams per second.

The server runs ``[server] workers`` processes: by default as many as the machine has CPUs on
PostgreSQL, one on SQLite (which takes one writer at a time; the server refuses several workers on it);
``--workers N`` sets it for PostgreSQL.

The baseline is ``GET /health`` on the same server at the same concurrency: the cost of HTTP alone
(client, uvicorn, routing), so the ratio says what a run adds on top.

Targets (this machine): 100 concurrent 3-node runs with p99 < 100 ms; >= 300 runs/s with PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx  # the readiness check only

POSTGRES_ADMIN_URL = os.environ.get("TREADLE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")
LEVELS = (1, 10, 100)
SCENARIOS = ("health", "workflow", "chat")
SCENARIO_NAMES = {"health": "GET /health (baseline)", "workflow": "workflow run, blocking", "chat": "chat SSE"}
P99_LIMIT_MS = 100.0
PG_RUNS_PER_S = 300.0

WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Shout}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: [{variable: text, label: Text, type: text-input, required: true}]}
    - id: upper
      data:
        type: template-transform
        title: Upper
        variables: [{variable: t, value_selector: [start, text]}]
        template: "{{ t | upper }}!"
    - id: end
      data: {type: end, title: End, outputs: [{variable: shout, value_selector: [upper, output]}]}
    edges:
    - {id: e1, source: start, target: upper}
    - {id: e2, source: upper, target: end}
"""

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Chatter}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "You are terse."
  user_input_form: []
"""


# -- the server ---------------------------------------------------------------------------------


def treadle_command() -> list[str]:
    """The ``treadle`` script beside this Python (the workspace's), else the module."""
    script = Path(sys.executable).parent / "treadle"
    return [str(script)] if script.exists() else [sys.executable, "-m", "treadle.cli"]


def cli(env: dict[str, str], *args: str) -> Any:
    """Run ``treadle ARGS --json`` and return its JSON answer."""
    done = subprocess.run([*treadle_command(), *args, "--json"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"treadle {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_PROFILED_SERVE = (
    "import cProfile, sys\n"
    "from treadle.cli import main\n"
    "profile = cProfile.Profile()\n"
    "profile.enable()\n"
    "try:\n"
    "    main(['serve', '--port', '0'], standalone_mode=False)\n"
    "finally:\n"
    "    profile.disable()\n"
    "    profile.dump_stats(sys.argv[1])\n"
)


def serve_command(profile: Path | None) -> list[str]:
    """``treadle serve --port 0``, or the same under cProfile writing to ``profile`` when it stops."""
    if profile is None:
        return [*treadle_command(), "serve", "--port", "0"]
    return [sys.executable, "-c", _PROFILED_SERVE, str(profile)]


def set_up_apps(env: dict[str, str], home: Path) -> dict[str, str]:
    """Import, publish and key the two apps; their keys by scenario."""
    keys = {}
    for name, dsl in (("workflow", WORKFLOW), ("chat", CHAT)):
        path = home / f"{name}.yml"
        path.write_text(dsl)
        app = cli(env, "app", "import", str(path))
        if app["mode"] == "workflow":
            cli(env, "app", "publish", app["id"])
        keys[name] = cli(env, "app", "key", app["id"])["token"]
    return keys


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A database of its own on the PostgreSQL server, dropped afterwards; its URL."""
    name = f"treadle_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.asynccontextmanager
async def running_server(backend: str, keep_log: Path | None, profile: Path | None,
                         extra_env: dict[str, str], workers: int = 1) -> AsyncIterator[Server]:
    """A server on ``backend`` with the apps set up, stopped (and its data removed) afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="treadle-bench-api-")))
        env = {key: value for key, value in os.environ.items() if not key.startswith("TREADLE_")}
        env["TREADLE_HOME"] = str(home)
        env["TREADLE_SERVER__WORKERS"] = str(workers)
        env.update(extra_env)
        if backend == "postgres":
            env["TREADLE_DATABASE__URL"] = await stack.enter_async_context(postgres_database())
        keys = await asyncio.to_thread(set_up_apps, env, home)
        log = home / "server.log"
        process = await asyncio.to_thread(_start, serve_command(_named(profile, backend)), env, log)
        try:
            url = await _wait_for_server(home, process, log)
            yield Server(url, keys, process, log)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if keep_log is not None:
                shutil.copyfile(log, _named(keep_log, backend))


def _named(path: Path | None, backend: str) -> Path | None:
    """``DIR/NAME-BACKEND.EXT`` for ``DIR/NAME.EXT``."""
    return None if path is None else path.with_name(f"{path.stem}-{backend}{path.suffix}")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _text(path: Path) -> str:
    return path.read_text()


async def _wait_for_server(home: Path, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    server_file = home / "server.json"
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the server exited ({process.returncode}):\n{_text(log)}")
            if server_file.exists():
                with contextlib.suppress(ValueError, OSError, httpx.HTTPError):
                    url = str(json.loads(_text(server_file))["url"])
                    if (await client.get(f"{url}/health")).status_code == 200:
                        return url
            await asyncio.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not come up in 60 s:\n{_text(log)}")


# -- a lean HTTP/1.1 client -----------------------------------------------------------------------


class RawClient:
    """One keep-alive HTTP/1.1 connection, requests written by hand and responses parsed by hand.

    The load generator shares this machine's CPUs with the server: a full client library (httpx
    spends ~1 ms of CPU per request) would measure itself more than the server, so the bench speaks
    just the HTTP it needs (Content-Length and chunked bodies).
    """

    def __init__(self, url: str) -> None:
        parts = url.removeprefix("http://").split(":")
        self.host, self.port = parts[0], int(parts[1])
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Send a request; yield ``(status, chunk)`` for each piece of the body as it arrives."""
        reader, writer = await self._connection()
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(payload)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
        }
        if fields.get(b"transfer-encoding") == b"chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return
                chunk = await reader.readexactly(size + 2)
                yield status, chunk[:-2]
        else:
            yield status, await reader.readexactly(int(fields.get(b"content-length", b"0")))

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None,
                   body: Any = None) -> tuple[int, bytes]:
        """A whole response: status and body."""
        status, parts = 0, []
        async for answered, chunk in self.request(method, path, headers, body):
            status = answered
            parts.append(chunk)
        return status, b"".join(parts)


# -- clients ------------------------------------------------------------------------------------

#: One request of a scenario: seconds to the first event (or the response) and to the end.
Request = Callable[[RawClient, int], Awaitable[tuple[float, float]]]


def scenario(server: Server, name: str) -> Request:
    """The request a client of scenario ``name`` sends (client ``index`` is end user ``bench-index``)."""
    if name == "health":

        async def health(client: RawClient, index: int) -> tuple[float, float]:
            started = time.perf_counter()
            status, body = await client.call("GET", "/health")
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"health: {status} {body.decode()}")
            return elapsed, elapsed

        return health

    if name == "workflow":
        headers = {"Authorization": f"Bearer {server.keys['workflow']}"}

        async def workflow(client: RawClient, index: int) -> tuple[float, float]:
            body = {"inputs": {"text": f"hi {index}"}, "user": f"bench-{index}", "response_mode": "blocking"}
            started = time.perf_counter()
            status, answer = await client.call("POST", "/v1/workflows/run", headers, body)
            elapsed = time.perf_counter() - started
            if status != 200 or json.loads(answer)["data"]["outputs"] != {"shout": f"HI {index}!"}:
                raise RuntimeError(f"workflow run: {status} {answer.decode()}")
            return elapsed, elapsed

        return workflow

    headers = {"Authorization": f"Bearer {server.keys['chat']}"}

    async def chat(client: RawClient, index: int) -> tuple[float, float]:
        body = {"inputs": {}, "query": f"hello {index}", "user": f"bench-{index}", "response_mode": "streaming",
                "auto_generate_name": False}
        first: float | None = None
        answer = ""
        ended = False
        pending = b""
        started = time.perf_counter()
        async for status, chunk in client.request("POST", "/v1/chat-messages", headers, body):
            if status != 200:
                raise RuntimeError(f"chat: {status} {chunk.decode()}")
            pending += chunk
            *frames, pending = pending.split(b"\n\n")
            for frame in frames:
                if not frame.startswith(b"data: "):
                    continue
                if first is None:
                    first = time.perf_counter() - started
                event = json.loads(frame[6:])
                if event["event"] == "message":
                    answer += event["answer"]
                elif event["event"] == "message_end":
                    ended = True
                elif event["event"] == "error":
                    raise RuntimeError(f"chat: error event {event}")
        elapsed = time.perf_counter() - started
        if first is None or not ended or f"hello {index}" not in answer:
            raise RuntimeError(f"chat: stream ended without the echo (answer {answer!r}, message_end {ended})")
        return first, elapsed

    return chat


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {f"p{q}_ms": percentile(ordered, q / 100) * 1e3 for q in (50, 95, 99)}


async def measure(url: str, request: Request, concurrency: int, total: int, warmup: int) -> dict[str, Any]:
    """``total`` requests from ``concurrency`` clients, each sending its share one after the other,
    after ``warmup`` untimed rounds per client."""
    per_client = max(1, total // concurrency)
    firsts: list[float] = []
    ends: list[float] = []
    # A client (and keep-alive connection) each.
    async with contextlib.AsyncExitStack() as stack:
        clients = [RawClient(url) for _ in range(concurrency)]
        for client in clients:
            stack.push_async_callback(client.aclose)

        async def one_client(index: int, rounds: int, record: bool) -> None:
            for _ in range(rounds):
                first, end = await request(clients[index], index)
                if record:
                    firsts.append(first)
                    ends.append(end)

        await asyncio.gather(*(one_client(i, warmup, False) for i in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(one_client(i, per_client, True) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(ends),
        "per_s": len(ends) / elapsed,
        "first": _stats(firsts),
        "end": _stats(ends),
    }


async def measure_backend(backend: str, scenarios: list[str], levels: list[int], requests: int, warmup: int,
                          keep_log: Path | None, profile: Path | None, extra_env: dict[str, str],
                          workers: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with running_server(backend, keep_log, profile, extra_env, workers) as server:
        for name in scenarios:
            request = scenario(server, name)
            results[name] = {}
            for level in levels:
                total = max(requests, level * 10)
                results[name][str(level)] = await measure(server.url, request, level, total, warmup)
                row = results[name][str(level)]
                print(f"  {backend:<9}{name:<10}{level:>4} clients: {row['per_s']:>7.0f}/s, "
                      f"p99 {row['end']['p99_ms']:.1f} ms", file=sys.stderr)
    return results


# -- figures ------------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for backend, found in results.items():
        top = found.get("workflow", {}).get("100")
        if top is not None:
            p99 = top["end"]["p99_ms"]
            yield {"target": f"{backend}: 100 concurrent 3-node runs, p99 < {P99_LIMIT_MS:g} ms",
                   "measured": f"p99 {p99:.1f} ms", "met": p99 < P99_LIMIT_MS}
    if "workflow" in results.get("postgres", {}):
        level, best = max(((lvl, row["per_s"]) for lvl, row in results["postgres"]["workflow"].items()),
                          key=lambda pair: pair[1])
        yield {"target": f"postgres: >= {PG_RUNS_PER_S:g} 3-node runs/s",
               "measured": f"{best:.0f} runs/s (at {level} clients)", "met": best >= PG_RUNS_PER_S}


def print_report(report: dict[str, Any]) -> None:
    setup = report["setup"]
    workers = ", ".join(f"{backend} {count}" for backend, count in setup["workers"].items())
    print(f"Service API benchmark: Python {setup['python']} on {setup['cpus']} CPUs; server workers: {workers}; "
          f"{setup['warmup']} warm-up rounds per client, then at least {setup['requests']} requests per level")
    print("'first' is the response (blocking) or the first SSE event; 'end' the whole response")
    print()
    header = (f"{'backend':<10}{'scenario':<24}{'clients':>8}{'req/s':>9}"
              f"{'first p50':>11}{'p95':>8}{'p99':>8}{'end p50':>10}{'p95':>8}{'p99':>8}{'x health':>10}")
    print(header)
    print("-" * len(header))
    for backend, found in report["results"].items():
        for name in found:
            for level, row in found[name].items():
                base = found["health"][level]["end"]["p50_ms"]
                print(f"{backend:<10}{SCENARIO_NAMES[name]:<24}{level:>8}{row['per_s']:>9.0f}"
                      f"{row['first']['p50_ms']:>11.2f}{row['first']['p95_ms']:>8.2f}{row['first']['p99_ms']:>8.2f}"
                      f"{row['end']['p50_ms']:>10.2f}{row['end']['p95_ms']:>8.2f}{row['end']['p99_ms']:>8.2f}"
                      f"{row['end']['p50_ms'] / base:>10.1f}")
    print()
    print("targets")
    for target in report["targets"]:
        print(f"  [{'met' if target['met'] else 'NOT MET'}] {target['target']}: {target['measured']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite, postgres")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent clients, comma-separated")
    parser.add_argument("--requests", type=int, default=600, help="timed requests per level (at least 10 per client)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per client first")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: health, workflow, chat")
    parser.add_argument("--keep-log", type=Path, help="copy each server's log here (NAME-BACKEND.log)")
    parser.add_argument("--profile", type=Path, help="run each server under cProfile, writing NAME-BACKEND.prof")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="server worker processes on PostgreSQL (default: the CPUs; SQLite: always 1)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set this in the server's environment (e.g. TREADLE_SERVER__LOOP_SPIN_US=0); repeatable")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    levels = [int(level) for level in args.levels.split(",")]
    extra_env = dict(pair.split("=", 1) for pair in args.env)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if set(scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(set(scenarios) - set(SCENARIOS)))}")
    if "health" not in scenarios:
        scenarios.insert(0, "health")  # the baseline of every ratio

    async def run_all() -> dict[str, Any]:
        return {backend: await measure_backend(backend, scenarios, levels, args.requests, args.warmup,
                                               args.keep_log, args.profile, extra_env, workers[backend])
                for backend in backends}

    # cProfile sees one process: a profiled server runs one worker.
    workers = {backend: 1 if backend == "sqlite" or args.profile else args.workers for backend in backends}

    results = asyncio.run(run_all())
    report = {
        "setup": {"python": platform.python_version(), "cpus": os.cpu_count(), "warmup": args.warmup,
                  "requests": args.requests, "levels": levels, "workers": workers},
        "results": results,
        "targets": list(targets(results)),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
