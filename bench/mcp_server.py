"""Benchmark: an app called as an MCP tool (issue 7, PUB-MCP-SERVER) against a real server.

    python bench/mcp_server.py [--json] [--calls N] [--levels 1,10]

One ``treadle serve`` on SQLite with its default plugins (set up as bench/api.py sets it up), the
3-node workflow (start -> template-transform -> end) published and switched on as an MCP server.
Clients in this process, one session each, calling the tool one call
after another, at 1 and 10 concurrent clients, in the 2026-07-28 protocol and in the legacy
``initialize`` handshake (stateless: each call is one POST answered with an SSE stream).

The baseline is the same run through the Service API (blocking ``POST /v1/workflows/run``) with the
same HTTP library (httpx2) at the same concurrency. The ``plain HTTP`` row sends ``tools/call`` as one
POST with that library too, so its ratio says what the server adds for MCP (the server code's lookup,
JSON-RPC, the SDK's server machinery); the ``SDK client`` rows add the client library's own cost,
which on a 2-CPU machine shares the CPUs with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
from api import cli, percentile, running_server
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

CALLS = 200
LEVELS = (1, 10)
PROTOCOLS = ("2026-07-28", "legacy")


def _stats(samples: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p95_ms": percentile(ordered, 0.95) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "calls_per_s": len(samples) / elapsed,
    }


async def _drive(clients: int, calls: int, one: Callable[[int], Awaitable[None]]) -> dict[str, float]:
    """``calls`` calls shared by ``clients`` concurrent workers (worker index given), each timed."""
    samples: list[float] = []
    per_client = max(1, calls // clients)

    async def worker(index: int) -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            await one(index)
            samples.append(time.perf_counter() - started)

    begun = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return _stats(samples, time.perf_counter() - begun)


async def _service_api(base: str, key: str, clients: int, calls: int) -> dict[str, float]:
    body = {"inputs": {"text": "hi"}, "response_mode": "blocking", "user": "bench"}
    headers = {"Authorization": f"Bearer {key}"}
    sessions = [httpx2.AsyncClient(base_url=base, headers=headers, timeout=60) for _ in range(clients)]
    try:

        async def one(index: int) -> None:
            response = await sessions[index].post("/v1/workflows/run", json=body)
            if response.status_code != 200 or response.json()["data"]["status"] != "succeeded":
                raise SystemExit(f"the Service API run failed: {response.status_code} {response.text[:300]}")

        for index in range(clients):
            await one(index)  # warm up each connection
        return await _drive(clients, calls, one)
    finally:
        for session in sessions:
            await session.aclose()


async def _mcp(url: str, protocol: str, clients: int, calls: int) -> dict[str, float]:
    https = [httpx2.AsyncClient(timeout=60) for _ in range(clients)]
    opened = [Client(streamable_http_client(url, http_client=http), mode=protocol) for http in https]
    sessions = [await client.__aenter__() for client in opened]
    try:
        tool = (await sessions[0].list_tools()).tools[0].name

        async def one(index: int) -> None:
            result = await sessions[index].call_tool(tool, {"text": "hi"})
            if result.is_error:
                raise SystemExit(f"the MCP call failed: {result.content}")

        for index in range(clients):
            await one(index)
        return await _drive(clients, calls, one)
    finally:
        for client in reversed(opened):
            await client.__aexit__(None, None, None)
        for http in https:
            await http.aclose()


async def _raw_mcp(url: str, tool: str, clients: int, calls: int) -> dict[str, float]:
    """tools/call in the 2026-07-28 protocol as plain HTTP POSTs with httpx2 (as the baseline): what
    the server spends, without the SDK client's own cost in this process."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": {"text": "hi"}, "_meta": meta}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
               "Mcp-Method": "tools/call", "Mcp-Name": tool}
    sessions = [httpx2.AsyncClient(headers=headers, timeout=60) for _ in range(clients)]
    try:

        async def one(index: int) -> None:
            response = await sessions[index].post(url, json=body)
            answer = response.json() if response.status_code == 200 else {}
            if answer.get("result", {}).get("isError", True):
                raise SystemExit(f"the MCP call failed: {response.status_code} {response.text[:300]}")

        for index in range(clients):
            await one(index)
        return await _drive(clients, calls, one)
    finally:
        for session in sessions:
            await session.aclose()


async def run(calls: int, levels: list[int]) -> dict[str, Any]:
    async with running_server("sqlite", None, None, {}) as server:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TREADLE_")}
        env["TREADLE_HOME"] = str(server.log.parent)
        apps = await asyncio.to_thread(cli, env, "app", "list")
        workflow = next(app for app in apps if app["mode"] == "workflow")
        enabled = await asyncio.to_thread(cli, env, "app", "mcp", workflow["id"], "--enable")
        url = f"{server.url}/mcp/server/{enabled['server_code']}/mcp"
        rows = []
        for clients in levels:
            baseline = await _service_api(server.url, server.keys["workflow"], clients, calls)
            rows.append({"path": "Service API, blocking run (baseline)", "clients": clients, **baseline, "ratio": 1.0})
            raw = await _raw_mcp(url, workflow["name"], clients, calls)
            rows.append({"path": "MCP tools/call, plain HTTP 2026-07-28", "clients": clients, **raw,
                         "ratio": raw["p50_ms"] / baseline["p50_ms"]})
            for protocol in PROTOCOLS:
                found = await _mcp(url, protocol, clients, calls)
                ratio = found["p50_ms"] / baseline["p50_ms"]
                rows.append({"path": f"MCP SDK client, {protocol}", "clients": clients, **found, "ratio": ratio})
    return {"machine": {"python": platform.python_version(), "cpus": os.cpu_count() or 1}, "calls": calls, "rows": rows}


def print_report(report: dict[str, Any]) -> None:
    print(f"an app as an MCP tool: {report['calls']} calls per row, python {report['machine']['python']}, "
          f"{report['machine']['cpus']} CPUs")
    print(f"{'path':<40}{'clients':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'calls/s':>9}{'x p50':>7}")
    print("-" * 91)
    for row in report["rows"]:
        print(f"{row['path']:<40}{row['clients']:>8}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}"
              f"{row['p99_ms']:>9.2f}{row['calls_per_s']:>9.1f}{row['ratio']:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
    parser.add_argument("--calls", type=int, default=CALLS, help=f"Calls per row (default {CALLS}).")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="Concurrent clients, comma-separated.")
    args = parser.parse_args()
    report = asyncio.run(run(args.calls, [int(level) for level in args.levels.split(",")]))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
