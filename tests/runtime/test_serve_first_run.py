"""``treadle serve`` on an empty data directory: migrates, creates the first workspace, says how to sign in."""

from __future__ import annotations

from pathlib import Path

from support.serve import running_server


def _serve_until_up(home: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
    with running_server(home, log_path, env=env):
        pass


def test_first_serve_prints_the_sign_in_and_the_api_url_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _serve_until_up(home, tmp_path / "first.log")
    first = (tmp_path / "first.log").read_text()
    assert "Sign in as admin@treadle.local with password" in first
    assert "Service API: http://127.0.0.1:" in first and "/v1" in first
    assert "Console API: http://127.0.0.1:" in first and "/console/api (POST /login" in first
    assert '"GET /health HTTP/1.1" 200' not in first  # no access log unless asked for
    _serve_until_up(home, tmp_path / "second.log", env={"TREADLE_SERVER__ACCESS_LOG": "true"})
    second = (tmp_path / "second.log").read_text()
    assert "Sign in as" not in second
    assert '"GET /health HTTP/1.1" 200' in second
