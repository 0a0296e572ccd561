"""The ``local`` storage backend (plugin local-storage): round trips, streamed loads, atomic writes,
keys confined to the root, the default root under $TREADLE_HOME, and the plugin out of process."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import treadle_local_storage
from treadle.config import Settings
from treadle.files import PluginStorage
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle_local_storage import CHUNK_BYTES
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.testing import ainvoke


async def call(root: Path, operation: str, key: str, **extra: Any) -> list[Any]:
    payload = {"key": key, "config": {"root": str(root)}, **extra}
    return await ainvoke(treadle_local_storage, "storage", "local", operation, payload)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_save_load_exists_delete_round_trip(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_BYTES * 2 + 5)
    assert await call(tmp_path, "exists", "upload_files/t1/a.bin") == [False]
    await call(tmp_path, "save", "upload_files/t1/a.bin", data=b64(data))
    assert (tmp_path / "upload_files" / "t1" / "a.bin").read_bytes() == data
    assert await call(tmp_path, "exists", "upload_files/t1/a.bin") == [True]
    pieces = await call(tmp_path, "load", "upload_files/t1/a.bin")
    # Streamed in pieces that each decode on their own.
    assert len(pieces) == 3
    assert b"".join(base64.b64decode(piece) for piece in pieces) == data
    await call(tmp_path, "delete", "upload_files/t1/a.bin")
    assert await call(tmp_path, "exists", "upload_files/t1/a.bin") == [False]
    # Deleting what is gone succeeds; loading it says which key is missing.
    await call(tmp_path, "delete", "upload_files/t1/a.bin")
    with pytest.raises(PluginNotFound, match=r"no file is stored under 'upload_files/t1/a\.bin'"):
        await call(tmp_path, "load", "upload_files/t1/a.bin")


async def test_an_empty_file_round_trips(tmp_path: Path) -> None:
    await call(tmp_path, "save", "empty.txt", data="")
    assert await call(tmp_path, "load", "empty.txt") == []
    assert await call(tmp_path, "exists", "empty.txt") == [True]


async def test_saving_replaces_the_file_whole_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    await call(tmp_path, "save", "k/v.txt", data=b64(b"first version, longer"))
    await call(tmp_path, "save", "k/v.txt", data=b64(b"second"))
    assert (tmp_path / "k" / "v.txt").read_bytes() == b"second"
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["v.txt"]


async def test_data_that_is_not_base64_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(PluginInvalidArgument, match=r"the data to save under 'x\.txt' is not base64"):
        await call(tmp_path, "save", "x.txt", data="not base64!")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "is empty"),
        ("../outside.txt", "'..' segment"),
        ("a/../../outside.txt", "'..' segment"),
        ("/etc/passwd", "is absolute"),
        ("a//b", "empty, '.' or '..' segment"),
        ("a/./b", "empty, '.' or '..' segment"),
        ("a\\..\\b", "backslash"),
        ("a\x00b", "NUL"),
        ("k" * 1025, "longer than 1024"),
    ],
)
async def test_keys_stay_inside_the_root(tmp_path: Path, key: str, why: str) -> None:
    root = tmp_path / "root"
    for operation, extra in (("save", {"data": b64(b"x")}), ("load", {}), ("exists", {}), ("delete", {})):
        with pytest.raises(PluginInvalidArgument, match=why) as caught:
            await call(root, operation, key, **extra)
        assert caught.value.details["key"] == key[:200]
    assert not (tmp_path / "outside.txt").exists()


async def test_a_symbolic_link_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("secret")
    (root / "link").symlink_to(elsewhere)
    with pytest.raises(PluginInvalidArgument, match="leads outside the storage root"):
        await call(root, "load", "link/secret.txt")
    with pytest.raises(PluginInvalidArgument, match="leads outside the storage root"):
        await call(root, "save", "link/new.txt", data=b64(b"x"))
    assert sorted(p.name for p in elsewhere.iterdir()) == ["secret.txt"]


async def test_the_default_root_is_under_treadle_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path))
    payload = {"key": "a.txt", "data": b64(b"hello")}
    await ainvoke(treadle_local_storage, "storage", "local", "save", payload)
    assert (tmp_path / "files" / "a.txt").read_bytes() == b"hello"
    monkeypatch.delenv("TREADLE_HOME")
    with pytest.raises(PluginInvalidArgument, match="set config 'root' or the TREADLE_HOME"):
        await ainvoke(treadle_local_storage, "storage", "local", "exists", {"key": "a.txt"})


async def test_unknown_config_fields_are_refused(tmp_path: Path) -> None:
    payload = {"key": "a.txt", "config": {"root": str(tmp_path), "bucket": "b"}}
    with pytest.raises(PluginInvalidArgument, match=r"bad local storage config at config\.bucket"):
        await ainvoke(treadle_local_storage, "storage", "local", "exists", payload)


async def test_the_backend_in_a_plugin_host_under_the_install_home(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path)
    groups = [GroupPlan("first-party", False, (PluginSpec("local-storage"),))]
    async with PluginSupervisor(settings, groups=groups) as supervisor:
        storage = PluginStorage(supervisor, "local", home=settings.home)
        data = os.urandom(CHUNK_BYTES + 1)
        await storage.save("upload_files/t1/f.bin", data)
        assert await storage.exists("upload_files/t1/f.bin")
        assert b"".join([piece async for piece in storage.load("upload_files/t1/f.bin")]) == data
        await storage.delete("upload_files/t1/f.bin")
        assert not await storage.exists("upload_files/t1/f.bin")
        with pytest.raises(PluginInvalidArgument, match=r"'\.\.' segment"):
            await storage.save("../escape", b"x")
    assert (settings.home / "files" / "upload_files" / "t1").is_dir()
