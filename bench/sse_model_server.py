"""A minimal OpenAI-compatible chat server for bench/model_stream.py, run as its own process.

    python bench/sse_model_server.py PORT_FILE

It answers ``POST /v1/chat/completions`` (stream=true) for the model ``bench-CHUNKS-INTERVAL_US``
with CHUNKS SSE deltas, INTERVAL_US microseconds apart (0: as fast as it can write), then a usage
chunk and ``[DONE]``. Each delta's content is the monotonic clock in
nanoseconds at the moment it was written, followed by a space, so the reader can tell each chunk's
latency (CLOCK_MONOTONIC is shared by every process of the machine). Plain asyncio streams: no web
framework between the socket and the bytes, so the server adds as little as it can.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path


def _event(payload: dict[str, object]) -> bytes:
    data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def _delta(content: str, finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "model": "bench",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = json.loads(await reader.readexactly(length)) if length else {}
            _, chunks_text, interval_text = str(body.get("model", "bench-100-0")).split("-")
            chunks, interval = int(chunks_text), int(interval_text) / 1e6
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n"
            )
            for _ in range(chunks):
                if interval:
                    await asyncio.sleep(interval)
                writer.write(_event(_delta(f"{time.monotonic_ns()} ")))
                await writer.drain()
            usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": chunks + 5}
            writer.write(_event({**_delta("", "stop"), "usage": usage}))
            data = b"data: [DONE]\n\n"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port_file: Path) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Written once, before serving: the bench waits for this file.
    port_file.write_text(str(port))  # noqa: ASYNC240
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
