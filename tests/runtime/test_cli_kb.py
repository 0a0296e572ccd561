"""``treadle kb``: ingest files and folders into a dataset, query it, list datasets (issue 6, the CLI).

Each command starts the installed plugins in their default placement, as an operator runs it: the
document extractor and the faiss store out of process, the fake embedding model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from treadle.cli import main

pytestmark = pytest.mark.slow

LEAVE = """# Leave policy

Employees get twenty-five days of paid annual leave. Unused days carry over until March.

Sick leave needs a doctor's note after three days."""

TRAVEL = """# Travel

Book trains for trips under four hours; flights need a manager's approval.

Hotel costs are refunded up to the city's nightly cap."""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TREADLE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def treadle(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output if code else result.stdout


def test_ingest_a_folder_then_query_and_list(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "handbook"
    (docs / "policies").mkdir(parents=True)
    (docs / "leave.md").write_text(LEAVE)
    (docs / "policies" / "travel.txt").write_text(TRAVEL)
    (docs / "policies" / "rates.json").write_text(json.dumps({"hotel_cap": {"Paris": 180, "Berlin": 150}}))
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # not a document: a folder walk leaves it out

    ingested = json.loads(treadle(
        "kb", "ingest", "Handbook", str(docs), "--create", "--embedding", "fake/fake-embedding",
        "--separator", "\\n\\n", "--max-length", "200", "--overlap", "0", "--json",
    ))  # fmt: skip
    assert ingested["dataset"]["name"] == "Handbook"
    assert ingested["dataset"]["indexing_technique"] == "high_quality"
    states = {d["name"]: d for d in ingested["documents"]}
    assert sorted(states) == ["leave.md", "rates.json", "travel.txt"]
    assert {d["indexing_status"] for d in states.values()} == {"completed"}
    # Three paragraphs in leave.md (its heading is one), two in travel.txt.
    assert states["leave.md"]["segments"] == 3 and states["travel.txt"]["segments"] == 3

    found = json.loads(treadle("kb", "query", "Handbook", "how many days of annual leave", "--method",
                               "full_text_search", "--top-k", "2", "--json"))  # fmt: skip
    records = found["records"]
    assert 1 <= len(records) <= 2
    top = records[0]["segment"]
    assert top["document"]["name"] == "leave.md" and "twenty-five days" in top["content"]

    text = treadle("kb", "query", "Handbook", "hotel refund cap", "--method", "full_text_search")
    assert text.startswith("1. ") and "travel.txt" in text.splitlines()[0]

    # A second ingest into the same dataset, found by name, adds to it.
    extra = tmp_path / "extra.md"
    extra.write_text("# Security\n\nBadges must be worn at all times.")
    again = json.loads(treadle("kb", "ingest", "Handbook", str(extra), "--json"))
    assert again["dataset"]["id"] == ingested["dataset"]["id"]

    listed = json.loads(treadle("kb", "list", "--json"))
    assert [(d["name"], d["document_count"]) for d in listed] == [("Handbook", 4)]


def test_economy_dataset_and_the_errors_a_user_meets(home: Path, tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text(TRAVEL)
    missing = treadle("kb", "ingest", "Nowhere", str(note), code=1)
    assert "no dataset has the id or name 'Nowhere' (add --create to make it)" in missing

    treadle("kb", "ingest", "Notes", str(note), "--create", "--indexing", "economy", "--json")
    hits = json.loads(treadle("kb", "query", "Notes", "trains", "--json"))
    assert hits["records"] and "trains" in hits["records"][0]["segment"]["content"]

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 this is not a PDF")
    failed = treadle("kb", "ingest", "Notes", str(broken), code=1)
    assert "error: broken.pdf:" in failed

    bad_model = treadle("kb", "ingest", "Other", str(note), "--create", "--embedding", "no-slash", code=2)
    assert "PROVIDER/MODEL" in bad_model
