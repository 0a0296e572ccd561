"""An in-process server application served over real HTTP on this test's event loop, for MCP
clients (which need a URL), and the apps the MCP tests publish."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

__all__ = ["CHATFLOW", "FAILING_WORKFLOW", "SLOW_WORKFLOW", "TRIGGERED_WORKFLOW", "WORKFLOW", "serving"]


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` on 127.0.0.1 at a free port, on the running event loop (its lifespan is the caller's:
    the database and plugins it uses belong to this loop); yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


#: A workflow whose Start node describes its inputs: a required text with a hint, a select, a number.
WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Shout Box, description: Shouts the text it is given.}
workflow:
  graph:
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables:
        - {variable: text, label: Text, type: text-input, required: true, max_length: 200, hint: What to shout.}
        - {variable: tone, label: Tone, type: select, required: false, options: [loud, louder]}
        - {variable: times, label: Times, type: number, required: false}
    - id: upper
      data:
        type: template-transform
        title: Upper
        variables: [{variable: t, value_selector: [start, text]}, {variable: tone, value_selector: [start, tone]}]
        template: "{{ t | upper }}!{% if tone == 'louder' %}!!{% endif %}"
    - id: end
      data: {type: end, title: End, outputs: [{variable: shout, value_selector: [upper, output]}]}
    edges:
    - {id: e1, source: start, target: upper}
    - {id: e2, source: upper, target: end}
"""

#: A chatflow that echoes the message (fake echo model) and counts the turns of its conversation.
CHATFLOW = """\
version: 0.3.0
kind: app
app: {mode: advanced-chat, name: Parrot}
workflow:
  conversation_variables:
  - {id: 5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b, name: turns, value_type: number, value: 0, description: turns}
  graph:
    nodes:
    - id: start
      data:
        type: start
        title: Start
        variables: [{variable: name, label: Your name, type: text-input, required: false}]
    - id: llm
      data:
        type: llm
        title: LLM
        model: {provider: fake, name: echo, mode: chat, completion_params: {}}
        prompt_template: [{role: user, text: "{{#sys.query#}}"}]
        context: {enabled: false}
        vision: {enabled: false}
    - id: count
      data:
        type: assigner
        title: Count
        version: '2'
        items: [{variable_selector: [conversation, turns], operation: +=, input_type: constant, value: 1}]
    - id: answer
      data: {type: answer, title: Answer, answer: "{{#llm.text#}} (turn {{#conversation.turns#}})"}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: count}
    - {id: e3, source: count, target: answer}
"""

#: A workflow whose LLM node fails: the fake script model is given no script.
FAILING_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Broken}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: llm
      data:
        type: llm
        title: Unscripted
        model: {provider: fake, name: script, mode: chat, completion_params: {}}
        prompt_template: [{role: user, text: "hello"}]
        context: {enabled: false}
        vision: {enabled: false}
    - id: end
      data: {type: end, title: End, outputs: [{variable: text, value_selector: [llm, text]}]}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: end}
"""

#: A workflow started by a schedule, not by a person: it cannot be an MCP server.
TRIGGERED_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Nightly}
workflow:
  graph:
    nodes:
    - id: tick
      data:
        type: trigger-schedule
        title: Every night
        mode: visual
        frequency: daily
        visual_config: {time: "3:00 AM"}
    - id: end
      data: {type: end, title: End, outputs: []}
    edges:
    - {id: e1, source: tick, target: end}
"""

#: A workflow whose LLM node answers a word every 300 ms (about 2.4 s in all).
SLOW_WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Slow}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: llm
      data:
        type: llm
        title: LLM
        model:
          provider: fake
          name: script
          mode: chat
          completion_params: {script: '[{"content": "one two three four five six seven eight", "delay_ms": 300}]'}
        prompt_template: [{role: user, text: "count"}]
        context: {enabled: false}
        vision: {enabled: false}
    - id: end
      data: {type: end, title: End, outputs: [{variable: text, value_selector: [llm, text]}]}
    edges:
    - {id: e1, source: start, target: llm}
    - {id: e2, source: llm, target: end}
"""
