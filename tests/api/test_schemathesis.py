"""Property-based contract tests: schemathesis generates requests from the OpenAPI documents and sends
them over real HTTP to the real application (uvicorn on 127.0.0.1, a migrated database, inline
plugins), authenticated with a real app key of each app mode, a console session from a real sign-in,
or (the Knowledge API) a real knowledge key. Every answer must not be a server error and must match
the document: its status code, its content type and its schema (API-COMMON-AUTH, API-COMMON-ERR,
API-COMMON-ROUTE, WS-ACCOUNT, WS-WORKSPACE, WS-MEMBERS-ROLES, WS-APP-MGMT, VC-HISTORY, WS-MODEL-CREDENTIALS,
WS-PLUGINS, FEAT-MODERATION, API-KB-*, API-DOC-*, API-CHUNK-*, API-META-*, API-TAG-*).

Generated path parameters are mostly unknown ids (404); so that the console routes also meet real
objects, most generated ids are swapped for the id of a real app, version, run, key, member,
credential provider or API extension made through the console before fuzzing, and the Knowledge
API's for a real dataset, document, chunk and metadata field.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.extension_server import KEY, ExtensionServer
from support.knowledge import knowledge_key
from support.service_api import INLINE_PLUGINS, service_api
from treadle.api.openapi import console_document, service_document
from treadle.runtime.bootstrap import DEFAULT_OWNER_EMAIL

from .service.test_generation import APPS as GENERATION_APPS

pytestmark = pytest.mark.slow

#: The generation tests' apps with their inputs made optional, so that generated requests can run them.
APPS = {name: dsl.replace("required: true", "required: false") for name, dsl in GENERATION_APPS.items()}

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

#: Examples per operation (and app mode): enough to meet each endpoint's edges, few enough to stay quick.
MAX_EXAMPLES = 12

OWNER_PASSWORD = "Passw0rd-for-tests"


@dataclass
class RunningTreadle:
    """The application served by uvicorn in a thread with its own event loop (where its database and
    plugins live), with an app key per mode and a console session."""

    base_url: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    console_token: str | None = None
    console_problem: str = ""
    #: Path parameter name -> the id of a real object made through the console (see :func:`real_ids`).
    console_ids: dict[str, str] = field(default_factory=dict)
    knowledge_key: str = ""
    #: Path parameter name -> the id of a real knowledge object (see :func:`real_knowledge_ids`).
    knowledge_ids: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def running_treadle(tmp_path: Path) -> Iterator[RunningTreadle]:
    running = RunningTreadle()
    ready = threading.Event()
    failure: list[BaseException] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    running.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    servers: list[uvicorn.Server] = []

    async def serve() -> None:
        async with service_api(tmp_path, apps=APPS, plugins=(*INLINE_PLUGINS, "doc-extractor")) as api:
            running.keys = dict(api.keys)
            running.knowledge_key = await knowledge_key(api.db, api.tenant_id)
            server = uvicorn.Server(uvicorn.Config(api.app, log_level="warning", lifespan="off"))
            servers.append(server)
            await server.serve(sockets=[sock])

    def thread_main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=thread_main, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (servers and servers[0].started) and not ready.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    if failure:
        raise failure[0]
    assert servers and servers[0].started, "the server did not start within 60 s"
    try:
        login = httpx.post(f"{running.base_url}/console/api/login",
                           json={"email": DEFAULT_OWNER_EMAIL, "password": OWNER_PASSWORD}, timeout=30)
        if login.status_code == 200:
            running.console_token = login.json()["data"]["access_token"]
        else:
            running.console_problem = f"POST /console/api/login answered {login.status_code}: {login.text[:200]}"
        with ExtensionServer() as extensions:
            if running.console_token is not None:
                running.console_ids = real_ids(running.base_url, running.console_token, extensions.url_for("/moderate"))
            running.knowledge_ids = real_knowledge_ids(running.base_url, running.knowledge_key)
            yield running
    finally:
        if servers:
            servers[0].should_exit = True
        thread.join(30)
        sock.close()


def real_ids(base_url: str, token: str, extension_url: str) -> dict[str, str]:
    """Objects for the console fuzzing to meet, made through the console itself: a published workflow
    app with a run and a key, an app to delete, a knowledge key, an invited member and an API extension
    (served by ``extension_url``). Keyed by the path parameter (``key_id`` twice: app and knowledge)."""
    console = httpx.Client(base_url=f"{base_url}/console/api", headers={"Authorization": f"Bearer {token}"},
                           timeout=30)

    def made(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code in (200, 201), (response.request.url, response.text)
        body: dict[str, Any] = response.json()
        return body

    with console:
        dsl = {"mode": "yaml-content", "yaml_content": APPS["workflow"]}
        app_id = made(console.post("/apps/imports", json={**dsl, "name": "Fuzzed"}))["app_id"]
        doomed = made(console.post("/apps/imports", json={**dsl, "name": "Doomed"}))["app_id"]
        version_id = made(console.post(f"/apps/{app_id}/workflows/publish", json={}))["id"]
        key = made(console.post(f"/apps/{app_id}/api-keys"))
        ran = httpx.post(f"{base_url}/v1/workflows/run", headers={"Authorization": f"Bearer {key['token']}"},
                         json={"inputs": {"text": "hi"}, "user": "fuzz"}, timeout=60)
        assert ran.status_code == 200, ran.text
        run_id = made(console.get(f"/apps/{app_id}/workflow-runs"))["data"][0]["id"]
        dataset_key = made(console.post("/datasets/api-keys"))["id"]
        invited = made(console.post("/workspaces/current/members/invite-email",
                                    json={"emails": ["fuzzed@example.com"], "role": "editor"}))
        member_id = invited["invitation_results"][0]["account_id"]
        extension = made(console.post("/api-based-extension",
                                      json={"name": "fuzzed", "api_endpoint": extension_url, "api_key": KEY}))["id"]
        made(console.post("/workspaces/current/model-providers/fake/credentials",
                          json={"credentials": {"api_key": "sk-fuzz-1234567890"}}))
    return {"app_id": app_id, "doomed_app_id": doomed, "version_id": version_id, "run_id": run_id,
            "key_id": key["id"], "dataset_key_id": dataset_key, "member_id": member_id,
            "extension_id": extension, "provider": "fake"}


def real_knowledge_ids(base_url: str, key: str) -> dict[str, str]:
    """Knowledge objects for the Knowledge API fuzzing to meet: an economical dataset with an indexed
    text document (so its chunks can be edited), a metadata field, and a dataset to be deleted."""
    client = httpx.Client(base_url=f"{base_url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def made(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code in (200, 201), (response.request.url, response.text)
        body: dict[str, Any] = response.json()
        return body

    with client:
        dataset = made(client.post("/datasets", json={"name": "Fuzzed", "indexing_technique": "economy"}))["id"]
        doomed = made(client.post("/datasets", json={"name": "Doomed"}))["id"]
        created = made(client.post(f"/datasets/{dataset}/document/create-by-text",
                                   json={"name": "Fuzzed", "text": "Chunks to fuzz.\n\nMore chunks."}))
        document, batch = created["document"]["id"], created["batch"]
        for _ in range(600):
            status = made(client.get(f"/datasets/{dataset}/documents/{batch}/indexing-status"))["data"][0]
            if status["indexing_status"] in ("completed", "error"):
                break
            time.sleep(0.05)
        assert status["indexing_status"] == "completed", status
        segment = made(client.get(f"/datasets/{dataset}/documents/{document}/segments"))["data"][0]["id"]
        metadata = made(client.post(f"/datasets/{dataset}/metadata", json={"type": "string", "name": "owner"}))["id"]
    return {"dataset_id": dataset, "doomed_dataset_id": doomed, "document_id": document, "batch": batch,
            "segment_id": segment, "metadata_id": metadata}


def use_real_knowledge_ids(case: schemathesis.Case, ids: dict[str, str]) -> None:
    """Swap three in four generated path parameters for a real knowledge object's id; deleting a
    dataset only ever meets the dataset made to be deleted."""
    for name, value in list((case.path_parameters or {}).items()):
        if zlib.crc32(str(value).encode()) % 4 == 0:
            continue
        if name == "dataset_id" and case.method.upper() == "DELETE" and case.path == "/datasets/{dataset_id}":
            case.path_parameters[name] = ids["doomed_dataset_id"]
        elif name in ids:
            case.path_parameters[name] = ids[name]


def use_real_ids(case: schemathesis.Case, ids: dict[str, str]) -> None:
    """Swap three in four generated path parameters for a real object's id (chosen from the generated
    value, so that a case replays the same); deleting an app only ever meets the app made to be deleted."""
    for name, value in list((case.path_parameters or {}).items()):
        if zlib.crc32(str(value).encode()) % 4 == 0:
            continue
        if name == "app_id" and case.method.upper() == "DELETE" and case.path == "/apps/{app_id}":
            case.path_parameters[name] = ids["doomed_app_id"]
        elif name == "key_id" and case.path.startswith("/datasets/"):
            case.path_parameters[name] = ids["dataset_key_id"]
        elif name in ids:
            case.path_parameters[name] = ids[name]


@pytest.fixture(scope="module")
def treadle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTreadle]:
    with running_treadle(tmp_path_factory.mktemp("schemathesis")) as running:
        yield running


#: The Knowledge API's paths: fuzzed with the workspace's knowledge key, the others with each app key.
KNOWLEDGE_PATHS = "^/(datasets|workspaces)"
service_schema = schemathesis.openapi.from_dict(service_document()).exclude(path_regex=KNOWLEDGE_PATHS)
service_schema.config.generation.update(max_examples=MAX_EXAMPLES)
knowledge_schema = schemathesis.openapi.from_dict(service_document()).include(path_regex=KNOWLEDGE_PATHS)
knowledge_schema.config.generation.update(max_examples=MAX_EXAMPLES)
console_schema = schemathesis.openapi.from_dict(console_document())
console_schema.config.generation.update(max_examples=MAX_EXAMPLES)

_SETTINGS = settings(
    max_examples=MAX_EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("mode", sorted(APPS))
@service_schema.parametrize()
@_SETTINGS
def test_the_service_api_keeps_its_contract(case: schemathesis.Case, treadle: RunningTreadle, mode: str) -> None:
    """Each operation with each app mode's key: a route for another mode answers the documented 400
    (not_chat_app / not_workflow_app), never a 500, and everything matches the document."""
    case.call_and_validate(
        base_url=f"{treadle.base_url}/v1", headers={"Authorization": f"Bearer {treadle.keys[mode]}"},
        checks=CHECKS, timeout=60,
    )


@knowledge_schema.parametrize()
@_SETTINGS
def test_the_knowledge_api_keeps_its_contract(case: schemathesis.Case, treadle: RunningTreadle) -> None:
    """Each Knowledge API operation with the workspace's knowledge key, meeting real datasets,
    documents and chunks (API-KB-*, API-DOC-*, API-CHUNK-*, API-CHILD-*, API-META-*, API-TAG-*, API-MODELS)."""
    use_real_knowledge_ids(case, treadle.knowledge_ids)
    case.call_and_validate(
        base_url=f"{treadle.base_url}/v1", headers={"Authorization": f"Bearer {treadle.knowledge_key}"},
        checks=CHECKS, timeout=60,
    )


@console_schema.parametrize()
@_SETTINGS
def test_the_console_api_keeps_its_contract(case: schemathesis.Case, treadle: RunningTreadle) -> None:
    """Each console operation with the owner's session (sign-in itself with generated credentials)."""
    assert treadle.console_token is not None, f"signing in to the console failed: {treadle.console_problem}"
    # Signing out ends every session of the account: the fuzzed sign-out goes without the shared one.
    headers = {} if case.path == "/logout" else {"Authorization": f"Bearer {treadle.console_token}"}
    use_real_ids(case, treadle.console_ids)
    case.call_and_validate(base_url=f"{treadle.base_url}/console/api", headers=headers, checks=CHECKS, timeout=60)
