"""Nodes read uploaded files (``local_file`` values) through the kernel's ``read_file``: a
document-extractor node reads an upload, inline and from a plugin host, for the run's workspace only."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from treadle.apps import RunRequest, WorkflowApp
from treadle.config import Settings
from treadle.files import FileService, UploadLimits
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle_http_node import FileReadError
from treadle_http_node.files import FileReader, FileRef
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound, PluginUnimplemented
from treadle_sdk.ssrf import SSRFGuard

from .conftest import Clock, make_service

NODES = [
    {"id": "start", "data": {"type": "start", "title": "Start", "variables": [
        {"variable": "doc", "label": "Document", "type": "file", "required": True,
         "allowed_file_types": ["document"], "allowed_file_upload_methods": ["local_file"]}]}},
    {"id": "extract", "data": {"type": "document-extractor", "title": "Extract",
                               "variable_selector": ["start", "doc"], "is_array_file": False}},
    {"id": "end", "data": {"type": "end", "title": "End", "outputs": [
        {"variable": "text", "value_selector": ["extract", "text"]}]}},
]  # fmt: skip
EDGES = [
    {"id": "a", "source": "start", "target": "extract", "sourceHandle": "source"},
    {"id": "b", "source": "extract", "target": "end", "sourceHandle": "source"},
]
TEXT = "Clause 1: the tenant pays on the first of the month.\nClause 2: ünïcode survives.\n"


def groups(doc_extractor_inline: bool) -> list[GroupPlan]:
    inline = [PluginSpec("core-nodes"), PluginSpec("local-storage")]
    if doc_extractor_inline:
        return [GroupPlan("inline", True, (*inline, PluginSpec("doc-extractor")))]
    return [GroupPlan("inline", True, tuple(inline)), GroupPlan("first-party", False, (PluginSpec("doc-extractor"),))]


async def run(supervisor: PluginSupervisor, tenant_id: str, value: dict[str, Any]) -> Any:
    app = WorkflowApp(mode="workflow", nodes=NODES, edges=EDGES, factory=PluginNodeFactory(supervisor))
    with supervisor.kernel_client(tenant_id=tenant_id) as kernel:
        return await app.run(RunRequest(inputs={"doc": value}), kernel=kernel)


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "plugin-host"])
async def test_a_document_extractor_reads_an_uploaded_file(inline: bool, clock: Clock) -> None:
    # A short home: the plugin host's socket lives under it.
    with tempfile.TemporaryDirectory(prefix="trf-") as home:
        settings = Settings.load(home=Path(home))
        async with PluginSupervisor(settings, groups=groups(inline)) as supervisor:
            service = make_service(supervisor, clock)
            supervisor.services.files = service
            record = await service.upload(
                "t1", filename="lease.md", content=TEXT.encode(), mime_type="text/markdown", created_by="u1"
            )
            mapping = {"type": "document", "transfer_method": "local_file", "upload_file_id": record.id}
            value = await service.file_from_mapping("t1", mapping)

            result = await run(supervisor, "t1", value)
            assert result.status == "succeeded", result.error
            assert result.outputs == {"text": TEXT}

            # Another workspace's run cannot read it, even holding the file value.
            other = await run(supervisor, "t2", value)
            assert other.status == "failed"
            assert f"there is no stored file {record.id!r} in this workspace" in other.error


async def test_read_file_through_the_kernel_client(supervisor: PluginSupervisor, clock: Clock) -> None:
    service: FileService = make_service(supervisor, clock, UploadLimits())
    with supervisor.kernel_client(tenant_id="t1") as kernel:
        with pytest.raises(PluginUnimplemented, match="no file storage"):
            await kernel.aread_file("f1")
        supervisor.services.files = service
        record = await service.upload("t1", filename="a.txt", content=b"x" * 100, created_by="u1")
        assert await kernel.aread_file(record.id) == b"x" * 100
        assert await kernel.aread_file(record.id, max_bytes=100) == b"x" * 100
        with pytest.raises(PluginInvalidArgument, match="more than the 99 bytes allowed") as caught:
            await kernel.aread_file(record.id, max_bytes=99)
        assert caught.value.details == {"size": 100, "limit": 99}
        with pytest.raises(PluginNotFound, match="no file 'nope' in this workspace"):
            await kernel.aread_file("nope")
        with pytest.raises(PluginInvalidArgument, match="needs a 'file_id' string"):
            await kernel.acall("read_file", {"file_id": 7})
        with pytest.raises(PluginInvalidArgument, match="'max_bytes' must be a whole number"):
            await kernel.acall("read_file", {"file_id": record.id, "max_bytes": -1})
    with supervisor.kernel_client(tenant_id="t2") as other:
        with pytest.raises(PluginNotFound):
            await other.aread_file(record.id)


async def test_the_file_reader_keeps_its_size_limit_for_stored_files(
    supervisor: PluginSupervisor, clock: Clock
) -> None:
    service = make_service(supervisor, clock)
    supervisor.services.files = service
    record = await service.upload("t1", filename="a.txt", content=b"x" * 11, created_by="u1")
    file = FileRef.from_value(service.file_value(record))
    assert file is not None
    with supervisor.kernel_client(tenant_id="t1") as kernel:
        assert await FileReader(SSRFGuard(), max_bytes=11).read(file, kernel) == b"x" * 11
        with pytest.raises(FileReadError, match=r"cannot read file a\.txt: it is 11 bytes, more than the 10 bytes"):
            await FileReader(SSRFGuard(), max_bytes=10).read(file, kernel)
