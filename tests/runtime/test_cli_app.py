"""``treadle app``: import, publish, key, export and list on the data directory's database."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from treadle.cli import main
from treadle.config import Settings
from treadle.graph.dsl import load_dsl
from treadle.runtime import prepare_database
from treadle.store import Account, Database
from treadle.tenancy import PasswordHasher

from .conftest import WORKFLOW_DSL

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "dify-dsl"
CORPUS_FILE = CORPUS / "knowledge-deep-research-chat.yml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TREADLE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def treadle(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.skipif(not CORPUS_FILE.is_file(), reason=f"the shared corpus is not at {CORPUS_FILE}")
def test_corpus_file_round_trip(home: Path, tmp_path: Path) -> None:
    source = tmp_path / CORPUS_FILE.name
    shutil.copy(CORPUS_FILE, source)
    # The corpus file ships its secret blank; give it one to follow through import and export.
    text = source.read_text()
    assert "value: ''\n    value_type: secret" in text
    source.write_text(text.replace("value: ''\n    value_type: secret", "value: kdr-secret-42\n    value_type: secret"))

    imported = json.loads(treadle("app", "import", str(source), "--json"))
    assert imported["mode"] == "advanced-chat"
    app_id = imported["id"]
    assert b"kdr-secret-42" not in (home / "treadle.db").read_bytes()

    published = json.loads(treadle("app", "publish", app_id, "--json"))
    assert published["current"] is True
    key = json.loads(treadle("app", "key", app_id, "--json"))
    assert key["token"].startswith("app-") and key["app_id"] == app_id
    assert treadle("app", "key", app_id).strip().startswith("app-")

    exported = load_dsl(treadle("app", "export", app_id))
    original = load_dsl(source)
    assert exported.workflow is not None and original.workflow is not None
    assert exported.workflow.graph == original.workflow.graph
    assert exported.workflow.features == original.workflow.features
    assert exported.workflow.environment_variables[0].value == ""
    revealed = load_dsl(treadle("app", "export", app_id, "--include-secrets"))
    assert revealed.workflow is not None and revealed.workflow.environment_variables[0].value == "kdr-secret-42"

    listed = json.loads(treadle("app", "list", "--json"))
    assert [(a["id"], a["workflow_id"]) for a in listed] == [(app_id, published["id"])]


def test_import_prints_the_id_and_creates_the_first_workspace(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "echo.yml"
    source.write_text(WORKFLOW_DSL)
    result = CliRunner().invoke(main, ["app", "import", str(source)])
    assert result.exit_code == 0, result.output
    app_id = result.stdout.strip()
    assert len(app_id) == 36
    assert "Sign in as admin@treadle.local with password" in result.stderr
    again = CliRunner().invoke(main, ["app", "import", str(source), "--workspace", "Admin's Workspace"])
    assert again.exit_code == 0, again.output
    assert again.stderr == ""  # the workspace exists now
    assert len(json.loads(treadle("app", "list", "--json"))) == 2


def test_bad_files_and_ids_give_clear_errors(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW_DSL.replace("{type: end, title: End", "{title: End"))
    result = CliRunner().invoke(main, ["app", "import", str(broken)])
    assert result.exit_code == 1
    assert str(broken) in result.output and "workflow.graph.nodes[1].data.type" in result.output

    unknown = tmp_path / "unknown.yml"
    unknown.write_text(WORKFLOW_DSL.replace("type: end, title: End", "type: teleport, title: End"))
    result = CliRunner().invoke(main, ["app", "import", str(unknown)])
    assert result.exit_code == 1
    assert str(unknown) in result.output and "node end" in result.output and "teleport" in result.output

    result = CliRunner().invoke(main, ["app", "import", str(unknown), "--workspace", "nowhere"])
    assert result.exit_code == 1 and "--workspace 'nowhere'" in result.output

    for command in ("publish", "key", "export"):
        result = CliRunner().invoke(main, ["app", command, "no-such-app"])
        assert result.exit_code == 1
        assert "app 'no-such-app' not found" in result.output


def test_prepare_database_migrates_bootstraps_once_and_the_password_works(home: Path) -> None:
    settings = Settings.load()
    lines = asyncio.run(prepare_database(settings, "http://127.0.0.1:5001/v1"))
    assert any("Service API: http://127.0.0.1:5001/v1" in line for line in lines)
    password = next(line for line in lines if "with password" in line).split("with password ")[1].split()[0]
    assert asyncio.run(prepare_database(settings, "http://127.0.0.1:5001/v1")) == []

    async def stored_hash() -> str | None:
        async with Database.from_settings(settings) as db, db.session() as s:
            return await s.scalar(select(Account.password_hash))

    hasher = PasswordHasher()
    stored = asyncio.run(stored_hash())
    assert hasher.verify(stored, password)
    assert not hasher.verify(stored, password + "x")
