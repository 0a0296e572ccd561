"""Configuration: defaults, ``treadle.toml`` (found through TREADLE_CONFIG, the working directory or
the data directory), ``TREADLE_*`` environment overrides, and errors that name the file and the key."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
import pytest
from treadle.config import ConfigError, Settings, find_config_file


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TREADLE_* variable from outside, a working directory without treadle.toml, and a data
    directory of the test's own: the tests see only the configuration they write."""
    for name in list(os.environ):
        if name.startswith("TREADLE_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    home = tmp_path / "home"
    monkeypatch.setenv("TREADLE_HOME", str(home))
    return home


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(clean_environment: Path) -> None:
    """The call deadline defaults to Dify's PLUGIN_MAX_EXECUTION_TIMEOUT (PLUG-RUNTIME): 600 s."""
    settings = Settings.load()
    assert settings.source is None
    assert settings.home == clean_environment
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 5001)
    assert settings.plugins.load is None
    assert settings.plugins.placement == {}
    assert settings.plugins.extra == []
    assert settings.plugins.call_timeout == 600.0
    assert settings.plugins.kv_max_value_bytes == 1024 * 1024
    assert settings.jobs.broker == "inline"
    assert settings.database_url == f"sqlite:///{clean_environment / 'treadle.db'}"
    assert settings.socket_dir == clean_environment / "run"


def test_the_default_home_is_the_per_user_data_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TREADLE_HOME")
    assert Settings.load().home == Path(platformdirs.user_data_dir("treadle", appauthor=False)).resolve()


def test_treadle_config_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere" / "custom.toml", '[server]\nport = 7001\n[plugins]\nload = ["fake"]\n')
    write(Path("treadle.toml"), "[server]\nport = 7002\n")  # TREADLE_CONFIG wins over ./treadle.toml
    monkeypatch.setenv("TREADLE_CONFIG", str(path))
    settings = Settings.load()
    assert settings.source == path
    assert settings.server.port == 7001
    assert settings.plugins.load == ["fake"]


def test_treadle_toml_in_the_working_directory(clean_environment: Path) -> None:
    write(clean_environment / "treadle.toml", "[server]\nport = 7003\n")  # the working directory's wins
    path = write(Path("treadle.toml"), '[server]\nport = 7004\n[plugins]\nplacement = { fake = "inline" }\n')
    settings = Settings.load()
    assert settings.source == path.resolve()
    assert settings.server.port == 7004
    assert settings.plugins.placement == {"fake": "inline"}


def test_treadle_toml_in_the_data_directory(clean_environment: Path) -> None:
    path = write(clean_environment / "treadle.toml", "[server]\nport = 7005\n")
    assert find_config_file() == path
    assert Settings.load().server.port == 7005


def test_a_file_given_in_code_wins_over_the_search(tmp_path: Path) -> None:
    write(Path("treadle.toml"), "[server]\nport = 7006\n")
    path = write(tmp_path / "given.toml", "[server]\nport = 7007\n")
    assert Settings.load(config_file=path).server.port == 7007


def test_the_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    write(Path("treadle.toml"), '[server]\nport = 7008\nhost = "0.0.0.0"\n[plugins]\ncall_timeout = 30\n')
    monkeypatch.setenv("TREADLE_SERVER__PORT", "7009")
    monkeypatch.setenv("TREADLE_PLUGINS__CALL_TIMEOUT", "12.5")
    settings = Settings.load()
    assert settings.server.port == 7009
    assert settings.server.host == "0.0.0.0"  # keys the environment does not set keep the file's value
    assert settings.plugins.call_timeout == 12.5


def test_values_in_code_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_SERVER__PORT", "7010")
    assert Settings.load(server={"port": 7011}).server.port == 7011


def test_load_plugins_shorthand(monkeypatch: pytest.MonkeyPatch) -> None:
    """``TREADLE_LOAD_PLUGINS=a,b`` is ``[plugins] load = ["a", "b"]``; other plugin settings of the
    file stay."""
    write(Path("treadle.toml"), '[plugins]\nload = ["time"]\nplacement = { fake = "inline" }\n')
    monkeypatch.setenv("TREADLE_LOAD_PLUGINS", "fake, basic-tools,,")
    settings = Settings.load()
    assert settings.plugins.load == ["fake", "basic-tools"]
    assert settings.plugins.placement == {"fake": "inline"}


def test_an_empty_load_plugins_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_LOAD_PLUGINS", "")
    assert Settings.load().plugins.load == []


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ('[server]\nport = "many"\n', "server.port", "valid integer"),
        ("[server]\nport = 70000\n", "server.port", "less than or equal to 65535"),
        ("[server]\nprot = 5001\n", "server.prot", "Extra inputs are not permitted"),
        ("[plugins]\ncall_timeout = 0\n", "plugins.call_timeout", "greater than 0"),
        ('[jobs]\nbroker = "kafka"\n', "jobs.broker", "'inline' or 'redis'"),
        ('[[plugins.extra]]\ngroup = "g"\n', "plugins.extra.0.path", "Field required"),
    ],
)
def test_an_invalid_value_names_the_file_and_the_key(toml: str, key: str, problem: str) -> None:
    path = write(Path("treadle.toml"), toml).resolve()
    with pytest.raises(ConfigError) as info:
        Settings.load()
    message = str(info.value)
    assert f"(file {path})" in message
    assert f"\n{key}\n" in message
    assert problem in message


def test_a_file_that_is_not_toml_is_a_config_error() -> None:
    path = write(Path("treadle.toml"), "[server\nport = 1\n").resolve()
    with pytest.raises(ConfigError, match=f"file {path}.*line 1"):
        Settings.load()


def test_an_invalid_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_SERVER__PORT", "many")
    with pytest.raises(ConfigError) as info:
        Settings.load()
    assert "\nserver.port\n" in str(info.value)
    assert "(file" not in str(info.value)  # there is no file in force


def test_treadle_config_naming_a_missing_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("TREADLE_CONFIG", str(missing))
    with pytest.raises(ConfigError, match=f"TREADLE_CONFIG names {missing}, which is not a file"):
        Settings.load()


def test_ensure_home_makes_the_data_directories(clean_environment: Path) -> None:
    settings = Settings.load()
    settings.ensure_home()
    assert (clean_environment / "files").is_dir()
    assert settings.socket_dir.is_dir()
    assert settings.socket_dir.stat().st_mode & 0o777 == 0o700
