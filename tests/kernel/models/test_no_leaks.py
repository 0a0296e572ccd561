"""Credentials never leak: a stored secret shows up in no log line (DEBUG, of a run that uses it and of
failing calls), no error message or run record, no credential listing of the CLI, no response of the
admin API, no exported DSL, and not in the bytes of the data directory (it is encrypted at rest)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from treadle.api import create_app
from treadle.apps import RunRequest, WorkflowApp
from treadle.graph.dsl import dump_dsl, load_dsl
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle_sdk.errors import PluginError

from .conftest import CLI, Supervised
from .openai_server import KeyedOpenAIServer
from .test_credentials import ask

MODEL_SECRET = "sk-NEVERSHOWN-model-5e1f0a9b"
TOOL_SECRET = "good-NEVERSHOWN-tool-31415926"
ENV_SECRET = "env-NEVERSHOWN-secret-2718"
#: What no output may contain: the secrets, and the part of them that masking never shows.
FORBIDDEN = (MODEL_SECRET, TOOL_SECRET, ENV_SECRET, "NEVERSHOWN")

DSL = f"""
version: 0.3.0
kind: app
app: {{name: asker, mode: workflow}}
workflow:
  environment_variables:
    - {{name: token, value_type: secret, value: {ENV_SECRET}}}
  graph:
    nodes:
      - id: start
        data: {{type: start, title: Start, variables: [{{variable: q, label: Q, type: text-input, required: true}}]}}
      - id: ask
        data:
          type: ask
          title: Ask
          prompt: "{{{{#start.q#}}}}"
          model: {{provider: langgenius/openai_api_compatible/openai_api_compatible, name: chat, mode: chat}}
      - id: end
        data: {{type: end, title: End, outputs: [{{variable: answer, value_selector: [ask, text]}}]}}
    edges:
      - {{id: e1, source: start, target: ask}}
      - {{id: e2, source: ask, target: end}}
"""


def assert_clean(text: str, where: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret!r} leaked into {where}"


async def store_secrets(sup: PluginSupervisor, server: KeyedOpenAIServer) -> None:
    server.keys[MODEL_SECRET] = "ok"
    server.labels[MODEL_SECRET] = "the stored key"
    await sup.model_settings.save_credentials(
        "", "openai_compat", {"api_key": MODEL_SECRET, "endpoint_url": server.url}, name="prod"
    )
    await sup.tool_credentials.save_credentials("", "keyed", {"api_key": TOOL_SECRET})


@pytest.mark.parametrize("placement", ["inline", "process"])
async def test_runs_errors_and_logs(
    supervised: Supervised, openai: KeyedOpenAIServer, caplog: pytest.LogCaptureFixture, placement: str
) -> None:
    caplog.set_level(logging.DEBUG)
    async with supervised(placement) as sup:
        sup.models.mapping = type(sup.models.mapping)({"openai_api_compatible": "openai_compat"})
        await store_secrets(sup, openai)
        app = WorkflowApp.from_dsl(load_dsl(DSL), PluginNodeFactory(sup))
        events: list[Any] = []
        with sup.kernel_client() as kernel:
            ok = await app.run(RunRequest(inputs={"q": "hi"}), kernel=kernel, on_event=events.append)
            assert ok.status == "succeeded", ok.error
            assert ok.outputs == {"answer": "served by the stored key"}

            # The provider now refuses the key, echoing it in its message and error code.
            openai.keys[MODEL_SECRET] = "refused"
            failed = await app.run(RunRequest(inputs={"q": "hi"}), kernel=kernel, on_event=events.append)
            assert failed.status == "failed"
            assert "answered 401" in failed.error
            assert failed.error_type == "InvokeAuthorizationError"

            errors: list[PluginError] = []
            for call in (
                kernel.ainvoke_tool("keyed", "explode", {}),
                ask(sup, "openai_compat", "chat", tenant=""),
            ):
                with pytest.raises(PluginError) as caught:
                    await call
                errors.append(caught.value)
    assert_clean(repr([(str(e), e.details, e.to_dict()) for e in errors]), "error messages")
    assert_clean(repr((ok, failed)), "run results")
    assert_clean(repr(events), "run events")
    assert_clean(caplog.text, "the log")
    assert_clean(repr([r.__dict__ for r in caplog.records]), "log records")


def test_cli_listings(cli: CLI) -> None:
    """Saved with ``treadle models/tools credentials set``, listed masked."""
    for args in (
        ["models", "credentials", "set", "fake", f"api_key={MODEL_SECRET}"],
        ["tools", "credentials", "set", "keyed", f"api_key={TOOL_SECRET}", "region=us"],
    ):
        assert_clean(cli(*args), "treadle ... credentials set")
    for group in ("models", "tools"):
        for args in ([], ["--json"]):
            assert_clean(cli(group, "credentials", "list", *args), f"treadle {group} credentials list {args}")
    listed = json.loads(cli("models", "credentials", "list", "--json"))
    assert listed[0]["values"]["api_key"] == "sk-******a9b"


async def test_admin_api(supervised: Supervised, openai: KeyedOpenAIServer) -> None:
    async with supervised() as sup:
        await store_secrets(sup, openai)
        with TestClient(create_app(sup.settings, admin_token="admin", supervisor=sup)) as client:
            bodies = [
                client.get("/admin/api/plugins", headers={"Authorization": "Bearer admin"}).text,
                client.get("/health").text,
                client.get("/admin/api/plugins").text,
            ]
    assert_clean("\n".join(bodies), "admin API responses")


def test_exported_dsl() -> None:
    """Secret environment variables are emptied and tool credentials left out (unless asked for)."""
    source = load_dsl(DSL)
    source.workflow.graph.nodes.append(  # type: ignore[union-attr]
        type(source.workflow.graph.nodes[0]).model_validate(  # type: ignore[union-attr]
            {"id": "tool", "data": {"type": "tool", "title": "Tool", "provider_id": "keyed", "provider_type": "builtin",
                                    "tool_name": "whoami", "credential_id": "cred-NEVERSHOWN-id"}}
        )
    )
    exported = dump_dsl(source)
    assert_clean(exported, "the exported DSL")
    assert "credential_id" not in exported
    assert "tool_name: whoami" in exported
    kept = dump_dsl(source, include_secrets=True)
    assert ENV_SECRET in kept and "cred-NEVERSHOWN-id" in kept


async def test_data_directory_bytes(supervised: Supervised, openai: KeyedOpenAIServer, home: Path) -> None:
    async with supervised() as sup:
        await store_secrets(sup, openai)
        files = _files(home)  # while the server runs: the WAL may hold what is not yet in models.db
    assert {"models.db", "secret_key"} <= set(files)
    for name, data in files.items():
        for secret in (MODEL_SECRET, TOOL_SECRET):
            for encoded in (secret.encode(), secret.encode("utf-16-le")):
                assert encoded not in data, f"{secret!r} is in {name} as plain text"


def _files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}
