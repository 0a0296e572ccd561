"""A NUL character (U+0000) in the path, the query string or a JSON body is 400 invalid_param on every
backend (PostgreSQL text cannot hold one; found by schemathesis against PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from support.service_api import ServiceApi, service_api

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Chatter}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: ""
  user_input_form: []
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps={"chat": CHAT}) as running:
        yield running


async def test_a_nul_anywhere_is_invalid_param(api: ServiceApi) -> None:
    c, auth = api.client, api.auth("chat")
    in_body = await c.post("/chat-messages", headers=auth, json={"inputs": {}, "query": "hi", "user": "a\x00b"})
    assert in_body.status_code == 400
    assert in_body.json()["code"] == "invalid_param" and in_body.json()["params"] == "user"
    nested = await c.post("/chat-messages", headers=auth,
                          json={"inputs": {"x": ["ok", "b\x00d"]}, "query": "hi", "user": "u"})
    assert nested.status_code == 400 and nested.json()["params"] == "inputs.x[1]"
    in_query = await c.get("/conversations", headers=auth, params={"user": "a\x00b"})
    assert in_query.status_code == 400 and "query string" in in_query.json()["message"]
    in_path = await c.request("DELETE", "/conversations/a%00b", headers=auth, json={"user": "u"})
    assert in_path.status_code == 400 and "path" in in_path.json()["message"]
    console = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://treadle.test")
    async with console:
        login = await console.post("/console/api/login", json={"email": "x\x00@example.com", "password": "p"})
    assert login.status_code == 400
    body = {"inputs": {}, "query": "no nul \\u0000 here", "user": "u"}
    fine = await c.post("/chat-messages", headers=auth, json=body)
    assert fine.status_code == 200, fine.text  # an escaped backslash-u is just text
