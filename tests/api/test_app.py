"""The HTTP server: /health, the operator plugin table, and the one error envelope (API-COMMON-ERR)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from treadle.api import create_app
from treadle.config import Settings

TOKEN = "test-admin-token"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = Path(tmp_path_factory.mktemp("home"))
    settings = Settings.load(home=home)
    with TestClient(create_app(settings, admin_token=TOKEN)) as client:
        yield client


def test_health_reports_ok_and_the_plugin_hosts(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    first_party = body["plugin_hosts"]["first-party"]
    assert first_party["state"] == "running"
    assert first_party["isolation"] == "process"
    assert isinstance(first_party["pid"], int)


def test_plugin_table_lists_first_party_plugins_out_of_process(client: TestClient) -> None:
    response = client.get("/admin/api/plugins", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["data"]}
    assert {"fake", "basic-tools"} <= set(rows)
    assert rows["fake"]["distribution"] == "treadle-plugin-fake"
    assert rows["fake"]["isolation"] == "process"
    assert rows["fake"]["pid"] == rows["basic-tools"]["pid"]  # one shared first-party host
    assert "model_provider:fake" in rows["fake"]["registers"]
    assert {"tool_provider:time", "tool_provider:maths"} <= set(rows["basic-tools"]["registers"])


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_plugin_table_needs_the_admin_token(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/admin/api/plugins", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "code": "unauthorized",
        "message": "this endpoint needs the server's admin token as a Bearer token",
        "status": 401,
    }


def test_error_envelope_for_unknown_routes_and_methods(client: TestClient) -> None:
    """Every error has exactly the keys code, message, status (pinned: Dify clients parse them)."""
    missing = client.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "Not Found", "status": 404}
    wrong_method = client.post("/health")
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()) == {"code", "message", "status"}
    assert wrong_method.json()["code"] == "method_not_allowed"
