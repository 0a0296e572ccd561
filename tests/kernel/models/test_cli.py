"""``treadle models`` and ``treadle tools``: the operators' way to the workspace settings until the
console API has them (WS-MODEL-CREDENTIALS, WS-DEFAULT-MODELS, WS-LOAD-BALANCING, WS-TOOLS)."""

from __future__ import annotations

import json

from .conftest import CLI


def test_model_credentials(cli: CLI) -> None:
    saved = cli("models", "credentials", "set", "fake", "api_key=sk-cli-first-000111", "--name", "first")
    assert saved.startswith("saved credential ") and "('first', default) of fake" in saved
    cli("models", "credentials", "set", "fake", "api_key=sk-cli-second-000222", "script=[\"hi\"]", "--default")
    rows = json.loads(cli("models", "credentials", "list", "--json"))
    assert [(r["name"], r["is_default"], r["values"]["api_key"]) for r in rows] == [
        ("first", False, "sk-******111"),
        ("API KEY 1", True, "sk-******222"),
    ]
    text = cli("models", "credentials", "list")
    assert f"{rows[1]['id']}  fake  'API KEY 1' (default)  api_key=sk-******222" in text

    assert "is now the default of fake" in cli("models", "credentials", "default", rows[0]["id"])
    assert f"deleted credential {rows[1]['id']}" in cli("models", "credentials", "delete", rows[1]["id"])
    rows = json.loads(cli("models", "credentials", "list", "--json", "--provider", "fake"))
    assert [(r["name"], r["is_default"]) for r in rows] == [("first", True)]
    # Another workspace has its own.
    assert cli("models", "credentials", "list", "--workspace", "other") == "no credentials\n"


def test_refusals_are_clean_errors(cli: CLI) -> None:
    refused = cli("models", "credentials", "set", "fake", "api_key=invalid", ok=False)
    assert "Error: model provider 'fake' refused the credentials (field 'api_key')" in refused
    assert "'invalid'" not in refused
    assert "has no credential field 'api_kee'" in cli("models", "credentials", "set", "fake", "api_kee=x", ok=False)
    assert "'api_key' is not KEY=VALUE" in cli("models", "credentials", "set", "fake", "api_key", ok=False)
    assert "model provider 'nope' is not installed" in cli("models", "credentials", "set", "nope", ok=False)
    assert "no model credential 'x'" in cli("models", "credentials", "delete", "x", ok=False)


def test_default_models(cli: CLI) -> None:
    assert cli("models", "default", "set", "llm", "fake:echo") == "default llm model: fake:echo\n"
    cli("models", "default", "set", "text-embedding", "fake:fake-embedding")
    listing = cli("models", "default", "list")
    assert listing.splitlines()[:2] == [f"{'llm':<16}fake:echo", f"{'text-embedding':<16}fake:fake-embedding"]
    assert f"{'tts':<16}-" in listing
    cli("models", "default", "unset", "text-embedding")
    assert json.loads(cli("models", "default", "list", "--json")) == {"llm": {"provider": "fake", "model": "echo"}}
    assert "has no llm model 'gpt-9'" in cli("models", "default", "set", "llm", "fake:gpt-9", ok=False)
    assert "is not PROVIDER:MODEL" in cli("models", "default", "set", "llm", "fake", ok=False)


def test_load_balancing(cli: CLI) -> None:
    for n in (1, 2):
        cli("models", "credentials", "set", "fake", f"api_key=sk-pool-key-00{n}")
    ids = [r["id"] for r in json.loads(cli("models", "credentials", "list", "--json"))]
    assert "over 3 credentials" in cli("models", "balance", "set", "fake:echo", ids[0], ids[0], ids[1])
    assert "is off" in cli("models", "balance", "off", "fake:echo")
    assert json.loads(cli("models", "balance", "list", "--json")) == [
        {"provider": "fake", "model": "echo", "model_type": "llm", "enabled": False, "pool": [ids[0], ids[0], ids[1]]}
    ]
    assert cli("models", "balance", "list") == f"fake:echo (llm) off: {ids[0]} {ids[0]} {ids[1]}\n"
    assert "needs at least two credentials" in cli("models", "balance", "set", "fake:echo", ids[0], ok=False)


def test_tool_credentials(cli: CLI) -> None:
    assert "of keyed" in cli("tools", "credentials", "set", "keyed", "api_key=good-cli-key-1234", "--name", "main")
    [row] = json.loads(cli("tools", "credentials", "list", "--json"))
    assert (row["kind"], row["name"], row["values"]) == ("tool", "main", {"api_key": "goo******234", "region": "eu"})
    refused = cli("tools", "credentials", "set", "keyed", "api_key=bad-cli-key-5678", ok=False)
    assert "tool provider 'keyed' refused the credentials (field 'api_key')" in refused
    assert "bad-cli-key-5678" not in refused
    cli("tools", "credentials", "delete", row["id"])
    assert cli("tools", "credentials", "list") == "no credentials\n"
