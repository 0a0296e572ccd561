"""The tool contract: typed parameters and their coercion, output messages, async tools, and OAuth
(PLUG-TOOL-SCHEMA, PLUG-TOOL-OUTPUT, PLUG-TOOL-OAUTH, PLUG-TYPE-TOOL)."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from pydantic import ValidationError
from treadle_sdk.context import CallContext
from treadle_sdk.dispatch import Dispatcher
from treadle_sdk.errors import (
    PluginInvalidArgument,
    PluginLoadError,
    PluginMalformedResponse,
    PluginNotFound,
    PluginTimeout,
)
from treadle_sdk.extensions import Tool, ToolProvider, validate_tool_parameters
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.schemas import (
    OAuthSchema,
    ProviderConfig,
    ToolParameter,
    ToolProviderSchema,
    ToolSchema,
)
from treadle_sdk.testing import MemoryKernel, ainvoke, load
from treadle_sdk.tool_runtime import (
    BlobMessage,
    ImageMessage,
    JsonMessage,
    LinkMessage,
    OAuthCallbackRequest,
    OAuthCredentials,
    TextMessage,
    VariableMessage,
)


def plugin_of(provider: ToolProvider) -> Any:
    class Plugin:
        @hookimpl
        def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
            register(provider)

    return Plugin()


def tool_schema(*parameters: ToolParameter, name: str = "probe") -> ToolSchema:
    return ToolSchema(name=name, label="Probe", description="Returns what it was given", parameters=list(parameters))


def param(name: str, type: str, **fields: Any) -> ToolParameter:
    return ToolParameter(name=name, type=type, label=name.title(), **fields)


# -- parameter declarations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "string", "options": [{"value": "a", "label": "A"}]}, "only 'select' parameters have options"),
        ({"type": "select"}, "a 'select' parameter needs options"),
        ({"type": "string", "min": 1}, "only 'number' parameters have min, max or precision"),
        ({"type": "number", "min": 5, "max": 1}, "min (5) is greater than max (1)"),
        ({"type": "number", "default": "ten"}, "the default of a number must be a number"),
        ({"type": "number", "max": 3, "default": 4}, "the default 4 is outside min/max"),
        ({"type": "boolean", "default": "yes"}, "the default of a boolean must be true or false"),
        (
            {"type": "select", "options": [{"value": "a", "label": "A"}], "default": "b"},
            "the default 'b' is not one of the options ['a']",
        ),
        ({"type": "unknown-kind"}, "Input should be"),
    ],
)
def test_inconsistent_parameter_declarations_are_refused(fields: dict[str, Any], message: str) -> None:
    """PLUG-TOOL-SCHEMA: a plugin with a bad parameter fails to load, not on a call."""
    with pytest.raises(ValidationError, match=re.escape(message)):
        ToolParameter(name="x", label="X", **fields)


def test_every_dify_parameter_type_and_form_is_accepted() -> None:
    """PLUG-TOOL-SCHEMA: Dify's parameter types, forms, scope, options written as YAML booleans."""
    kinds = ["string", "number", "boolean", "secret-input", "file", "files", "model-selector", "app-selector"]
    for kind in [*kinds, "array[tools]", "object", "array", "any"]:
        assert param("p", kind).type.value == kind
    chooser = param("m", "model-selector", scope="llm", form="form", required=True)
    assert (chooser.scope, chooser.form.value, chooser.required) == ("llm", "form", True)
    yes_no = param("b", "select", options=[{"value": True, "label": "Yes"}, {"value": False, "label": "No"}])
    assert [o.value for o in yes_no.options] == ["true", "false"]


def test_tool_schemas_refuse_repeated_parameters_and_non_object_output_schemas() -> None:
    with pytest.raises(ValidationError, match="parameter name\\(s\\) 'a' appear more than once"):
        tool_schema(param("a", "string"), param("a", "number"))
    with pytest.raises(ValidationError, match="root of an output schema must have type 'object', not 'array'"):
        ToolSchema(name="t", label="T", description="d", output_schema={"type": "array"})
    declared = ToolSchema(
        name="t",
        label="T",
        description="d",
        output_schema={"type": "object", "properties": {"name": {"type": "string"}}},
    )
    assert declared.output_schema == {"type": "object", "properties": {"name": {"type": "string"}}}


# -- parameter values ----------------------------------------------------------------------------

FILE = {"dify_model_identity": "__dify__file__", "type": "document", "url": "https://example.com/a.pdf"}


@pytest.mark.parametrize(
    ("declared", "given", "coerced"),
    [
        (param("n", "number", precision=2), "3.14159", 3.14),
        (param("n", "number", precision=0), 2.6, 3),
        (param("b", "boolean"), 1, True),
        (param("b", "boolean"), 0, False),
        (param("b", "boolean"), "Yes", True),
        (param("b", "boolean"), "off", False),
        (
            param("s", "select", options=[{"value": "True", "label": "y"}, {"value": "False", "label": "n"}]),
            True,
            "True",
        ),
        (
            param("s", "select", options=[{"value": "True", "label": "y"}, {"value": "False", "label": "n"}]),
            "false",
            "False",
        ),
        (param("k", "secret-input"), 1234, "1234"),
        (param("f", "file"), FILE, FILE),
        (param("f", "file"), [FILE], FILE),
        (param("fs", "files"), FILE, [FILE]),
        (param("fs", "files"), [FILE, FILE], [FILE, FILE]),
        (
            param("m", "model-selector"),
            '{"provider": "openai", "model": "gpt-4o"}',
            {"provider": "openai", "model": "gpt-4o"},
        ),
        (param("a", "app-selector"), "app-123", {"app_id": "app-123"}),
        (param("a", "app-selector"), {"app_id": "x", "inputs": {"q": 1}}, {"app_id": "x", "inputs": {"q": 1}}),
        (
            param("t", "array[tools]"),
            [{"provider_name": "time", "tool_name": "current_time"}],
            [{"provider_name": "time", "tool_name": "current_time"}],
        ),
        (param("o", "object"), '{"a": [1, 2]}', {"a": [1, 2]}),
        (param("l", "array"), "[1, 2]", [1, 2]),
        (param("x", "any"), {"anything": True}, {"anything": True}),
    ],
)
def test_values_are_coerced_to_their_declared_type(declared: ToolParameter, given: Any, coerced: Any) -> None:
    """PLUG-TOOL-SCHEMA: what the workflow editor, an agent's model or the API sends becomes the type."""
    assert validate_tool_parameters(tool_schema(declared), {declared.name: given}) == {declared.name: coerced}


@pytest.mark.parametrize(
    ("declared", "given", "message"),
    [
        (param("n", "number"), float("inf"), "must be a finite number, not inf"),
        (param("n", "number", min=0, max=10), "11", "must be at least 0 and at most 10, not 11"),
        (param("b", "boolean"), 2, "must be true or false, not 2"),
        (param("b", "boolean"), "maybe", "must be true or false, not 'maybe'"),
        (param("s", "select", options=[{"value": "a", "label": "A"}]), "b", "must be one of ['a'], not 'b'"),
        (
            param("f", "file"),
            "https://example.com/a.pdf",
            "must be a file (an object, as file variables hold), not str",
        ),
        (param("fs", "files"), [FILE, "x"], "parameter 'fs' of tool 'probe' (item 1) must be a file"),
        (param("m", "model-selector"), {"provider": "openai"}, "must name a model: 'model' missing"),
        (param("m", "model-selector"), "gpt-4o", "must be an object or its JSON text"),
        (
            param("m", "model-selector", scope="text-embedding"),
            {"provider": "openai", "model": "gpt-4o", "model_type": "llm"},
            "must be a 'text-embedding' model, not 'llm'",
        ),
        (param("a", "app-selector"), {"inputs": {}}, "must name an app: 'app_id' missing"),
        (param("t", "array[tools]"), ["time"], "must be a list of tools (objects)"),
        (param("o", "object"), "[1]", "must be an object, not list"),
        (param("l", "array"), "{", "must be a list or its JSON text"),
    ],
)
def test_values_of_the_wrong_type_are_refused_naming_the_parameter(
    declared: ToolParameter, given: Any, message: str
) -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        validate_tool_parameters(tool_schema(declared), {declared.name: given})
    assert message in caught.value.message
    assert caught.value.message.startswith(f"parameter {declared.name!r} of tool 'probe'")
    assert caught.value.details["parameter"] == declared.name


def test_defaults_fill_missing_values_and_required_ones_must_be_given() -> None:
    schema = tool_schema(
        param("flag", "boolean", default=True),
        param("limit", "number", default=5),
        param("files", "files", required=True),
        param("note", "string"),
    )
    assert validate_tool_parameters(schema, {"files": [FILE], "flag": None}) == {
        "flag": True,
        "limit": 5,
        "files": [FILE],
    }
    with pytest.raises(PluginInvalidArgument, match="parameter 'files' of tool 'probe' is required"):
        validate_tool_parameters(schema, {"files": []})


# -- output messages -----------------------------------------------------------------------------


def test_every_message_kind_is_checked_when_built() -> None:
    """PLUG-TOOL-OUTPUT: text, json, link, image, blob, variable and streamed variable messages."""
    assert JsonMessage(json_object=[1, 2]).json_object == [1, 2]
    with pytest.raises(ValidationError):
        JsonMessage(json_object=42)  # type: ignore[arg-type]
    assert LinkMessage(link="https://example.com/x").link == "https://example.com/x"
    with pytest.raises(ValidationError, match="a link must be an absolute http or https URL, not 'javascript:alert"):
        LinkMessage(link="javascript:alert(1)")
    assert ImageMessage(url="data:image/png;base64,AAAA").url.startswith("data:image/png")
    with pytest.raises(ValidationError, match="an image URL must be an absolute http or https URL"):
        ImageMessage(url="file:///etc/passwd")
    blob = BlobMessage.of(b"\x00\x01 bytes", mime_type="application/pdf", filename="report.pdf")
    assert (blob.data(), blob.mime_type, blob.filename) == (b"\x00\x01 bytes", "application/pdf", "report.pdf")
    with pytest.raises(ValidationError, match="blob must be base64 text"):
        BlobMessage(blob="not base64!")
    with pytest.raises(ValidationError, match="'pdf' is not a MIME type"):
        BlobMessage.of(b"x", mime_type="pdf")
    with pytest.raises(ValidationError, match="a file name must be a plain name without a path"):
        BlobMessage.of(b"x", filename="../../etc/passwd")
    assert VariableMessage(name="summary", value={"any": ["json"]}).stream is False
    assert VariableMessage(name="answer", value="chunk", stream=True).value == "chunk"
    with pytest.raises(ValidationError, match="a streamed variable takes text chunks, not int"):
        VariableMessage(name="answer", value=3, stream=True)
    with pytest.raises(ValidationError, match="'my var' is not a variable name"):
        VariableMessage(name="my var", value=1)


class Emit(Tool):
    """Yields the messages it is given, as plain dicts (as a plugin may)."""

    schema = tool_schema(param("messages", "array"), name="emit")

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> Any:
        return parameters["messages"]


class Emitter(ToolProvider):
    schema = ToolProviderSchema(name="emitter", label="Emitter", description="Emits messages")

    def __init__(self) -> None:
        self.tools = [Emit()]


async def emit(*messages: Any) -> list[Any]:
    payload = {"tool": "emit", "parameters": {"messages": list(messages)}}
    return await ainvoke(plugin_of(Emitter()), "tool_provider", "emitter", "invoke_tool", payload)


async def test_messages_cross_the_boundary_checked() -> None:
    """PLUG-TOOL-OUTPUT: a plain string is text; each kind arrives typed; a stream is variable chunks."""
    out = await emit(
        "plain",
        {"type": "link", "link": "https://example.com"},
        {"type": "blob", "blob": base64.b64encode(b"%PDF").decode(), "mime_type": "application/pdf"},
        {"type": "variable", "name": "answer", "value": "Hel", "stream": True},
        {"type": "variable", "name": "answer", "value": "lo", "stream": True},
    )
    assert out[0] == TextMessage(text="plain")
    assert isinstance(out[1], LinkMessage) and isinstance(out[2], BlobMessage)
    assert [(m.name, m.value, m.stream) for m in out[3:]] == [("answer", "Hel", True), ("answer", "lo", True)]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "link", "link": "ftp://example.com/file"},
        {"type": "variable", "name": "answer", "value": ["not", "text"], "stream": True},
        {"type": "json", "json_object": "a string"},
        {"type": "sound", "data": "x"},
    ],
)
async def test_a_malformed_message_is_a_malformed_response_not_data(message: dict[str, Any]) -> None:
    with pytest.raises(PluginMalformedResponse):
        await emit(message)


# -- async tools ---------------------------------------------------------------------------------


class Countdown(Tool):
    """An async generator tool: streams its text as a variable, one chunk per step."""

    schema = tool_schema(param("steps", "number", required=True, min=1, max=10), name="countdown")

    async def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> AsyncIterator[Any]:
        for step in range(parameters["steps"], 0, -1):
            await asyncio.sleep(0)
            yield VariableMessage(name="count", value=f"{step} ", stream=True)
        yield "lift-off"


class Lookup(Tool):
    """A coroutine tool that calls back into the kernel (KV) before answering."""

    schema = tool_schema(param("key", "string", required=True), name="lookup")

    async def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[Any]:
        value = await ctx.kernel.akv_get(parameters["key"])
        return [JsonMessage(json_object={"key": parameters["key"], "value": value and value.decode()})]


class Stall(Tool):
    schema = tool_schema(name="stall")

    async def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        await asyncio.sleep(30)
        return "never"


class AsyncKit(ToolProvider):
    schema = ToolProviderSchema(name="async-kit", label="Async kit", description="Async tools")

    def __init__(self) -> None:
        self.tools = [Countdown(), Lookup(), Stall()]


async def test_async_generator_tools_stream_their_messages() -> None:
    """PLUG-TYPE-TOOL: a tool's invoke may be an async generator; its messages come in order."""
    payload = {"tool": "countdown", "parameters": {"steps": "3"}}
    messages = await ainvoke(plugin_of(AsyncKit()), "tool_provider", "async-kit", "invoke_tool", payload)
    assert [m.value for m in messages[:-1]] == ["3 ", "2 ", "1 "]
    assert messages[-1] == TextMessage(text="lift-off")


async def test_coroutine_tools_may_call_back_into_the_kernel() -> None:
    kernel = MemoryKernel(asyncio.get_running_loop())
    kernel.kv["colour"] = b"teal"
    payload = {"tool": "lookup", "parameters": {"key": "colour"}}
    [message] = await ainvoke(
        plugin_of(AsyncKit()), "tool_provider", "async-kit", "invoke_tool", payload, kernel=kernel
    )
    assert message == JsonMessage(json_object={"key": "colour", "value": "teal"})


async def test_an_async_tool_past_the_deadline_times_out() -> None:
    with pytest.raises(PluginTimeout):
        await ainvoke(
            plugin_of(AsyncKit()), "tool_provider", "async-kit", "invoke_tool", {"tool": "stall"}, timeout=0.2
        )


async def test_an_async_tool_is_cancelled_when_the_caller_gives_up() -> None:
    """The worker thread handing on an async tool's messages notices that the caller went away and
    cancels the tool on the loop, so its cleanup runs and nothing is left waiting."""
    cleaned_up = asyncio.Event()

    class Waiter(Tool):
        schema = tool_schema(name="waiter")

        async def invoke(
            self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
        ) -> AsyncIterator[str]:
            try:
                yield "first"
                await asyncio.sleep(60)
                yield "never"
            finally:
                cleaned_up.set()

    class WaitKit(ToolProvider):
        schema = ToolProviderSchema(name="wait-kit", label="Wait", description="Waits")
        tools = [Waiter()]

    registry = load(plugin_of(WaitKit()))
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=2) as executor:
        ctx = CallContext(
            plugin="", call="tool_provider/wait-kit.invoke_tool", tenant_id="t", kernel=MemoryKernel(loop)
        )
        stream = Dispatcher(registry.extensions, executor).invoke(
            "tool_provider", "wait-kit", "invoke_tool", {"tool": "waiter"}, ctx
        )
        assert await anext(stream) == TextMessage(text="first")
        await stream.aclose()
        await asyncio.wait_for(cleaned_up.wait(), timeout=10)
    assert ctx.cancelled.is_set()


def test_a_provider_with_async_tools_must_not_run_its_plain_code_on_the_loop() -> None:
    class OnLoop(AsyncKit):
        blocking = False

    with pytest.raises(PluginLoadError, match="has async tools \\(countdown, lookup, stall\\): it must keep blocking"):
        load(plugin_of(OnLoop()))


# -- OAuth ---------------------------------------------------------------------------------------

CLIENT = {"client_id": "client-1", "client_secret": "s3cret"}
REDIRECT = "https://treadle.example/console/api/oauth/plugin/acme/mail/callback"
OAUTH = OAuthSchema(
    client_schema=[
        ProviderConfig(name="client_id", type="secret-input", required=True, url="https://mail.example/docs/oauth"),
        ProviderConfig(name="client_secret", type="secret-input", required=True),
    ],
    credentials_schema=[
        ProviderConfig(name="access_token", type="secret-input"),
        ProviderConfig(name="refresh_token", type="secret-input"),
    ],
)


class Inbox(Tool):
    schema = tool_schema(name="inbox")

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        return f"inbox of {credentials.get('access_token')}"


class Mail(ToolProvider):
    """A provider authorizing with OAuth. Tokens are derived from the code, so the flow is checkable
    without a token endpoint; the hook for refresh is async to show both shapes."""

    schema = ToolProviderSchema(name="mail", label="Mail", description="Reads mail", oauth_schema=OAUTH)

    def __init__(self, leak: bool = False) -> None:
        self.tools = [Inbox()]
        self.leak = leak

    def oauth_get_authorization_url(
        self, redirect_uri: str, system_credentials: dict[str, Any], ctx: CallContext
    ) -> str:
        query = {"client_id": system_credentials["client_id"], "redirect_uri": redirect_uri, "response_type": "code"}
        return f"https://mail.example/authorize?{urlencode(query)}"

    def oauth_get_credentials(
        self, redirect_uri: str, system_credentials: dict[str, Any], request: OAuthCallbackRequest, ctx: CallContext
    ) -> OAuthCredentials:
        if "error" in request.query:
            raise PluginInvalidArgument(f"authorization failed: {request.query['error']}")
        credentials = {"access_token": f"at-{request.query['code']}", "refresh_token": f"rt-{request.query['code']}"}
        if self.leak:
            credentials["secret_copy"] = system_credentials["client_secret"]
        return OAuthCredentials(credentials=credentials, expires_at=1_900_000_000)

    async def oauth_refresh_credentials(  # type: ignore[override]
        self, redirect_uri: str, system_credentials: dict[str, Any], credentials: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        await asyncio.sleep(0)
        refresh = credentials["refresh_token"]
        return {"credentials": {"access_token": f"{refresh}-renewed", "refresh_token": refresh}}


async def test_oauth_flow_authorization_url_then_credentials_then_refresh() -> None:
    """PLUG-TOOL-OAUTH: the three operations, with the provider's client settings."""
    plugin = plugin_of(Mail())
    args = {"redirect_uri": REDIRECT, "system_credentials": CLIENT}
    [url] = await ainvoke(plugin, "tool_provider", "mail", "oauth_authorization_url", args)
    query = parse_qs(urlsplit(url).query)
    assert (query["client_id"], query["redirect_uri"]) == (["client-1"], [REDIRECT])

    callback = {"method": "GET", "url": f"{REDIRECT}?code=abc", "query": {"code": "abc", "state": "xyz"}}
    [granted] = await ainvoke(plugin, "tool_provider", "mail", "oauth_credentials", {**args, "request": callback})
    assert granted == OAuthCredentials(
        credentials={"access_token": "at-abc", "refresh_token": "rt-abc"}, expires_at=1_900_000_000
    )

    refresh_args = {**args, "credentials": granted.credentials}
    [renewed] = await ainvoke(plugin, "tool_provider", "mail", "oauth_refresh", refresh_args)
    assert renewed == OAuthCredentials(credentials={"access_token": "rt-abc-renewed", "refresh_token": "rt-abc"})
    assert renewed.expires_at == -1

    invoke_args = {"tool": "inbox", "credentials": renewed.credentials}
    assert await ainvoke(plugin, "tool_provider", "mail", "invoke_tool", invoke_args) == [
        TextMessage(text="inbox of rt-abc-renewed")
    ]


async def test_oauth_operations_check_their_inputs_and_the_plugins_answers() -> None:
    plugin = plugin_of(Mail())
    with pytest.raises(PluginInvalidArgument, match=r"lack 'client_secret' \(oauth_schema\.client_schema\)"):
        await ainvoke(
            plugin,
            "tool_provider",
            "mail",
            "oauth_authorization_url",
            {"redirect_uri": REDIRECT, "system_credentials": {"client_id": "c"}},
        )
    with pytest.raises(PluginInvalidArgument, match="redirect_uri must be an absolute http or https URL"):
        await ainvoke(
            plugin,
            "tool_provider",
            "mail",
            "oauth_authorization_url",
            {"redirect_uri": "/callback", "system_credentials": CLIENT},
        )
    denied = {"redirect_uri": REDIRECT, "system_credentials": CLIENT, "request": {"query": {"error": "access_denied"}}}
    with pytest.raises(PluginInvalidArgument, match="authorization failed: access_denied"):
        await ainvoke(plugin, "tool_provider", "mail", "oauth_credentials", denied)
    leaking = {"redirect_uri": REDIRECT, "system_credentials": CLIENT, "request": {"query": {"code": "c"}}}
    with pytest.raises(PluginMalformedResponse, match="returned the client's 'client_secret' among the credentials"):
        await ainvoke(plugin_of(Mail(leak=True)), "tool_provider", "mail", "oauth_credentials", leaking)


async def test_providers_without_an_oauth_schema_offer_no_oauth_operations() -> None:
    registry = load(plugin_of(Emitter()))
    entry = registry.extensions.get("tool_provider", "emitter")
    assert entry is not None and sorted(entry.operations) == ["invoke_tool"]
    mail = load(plugin_of(Mail())).extensions.get("tool_provider", "mail")
    assert mail is not None
    assert sorted(mail.operations) == ["invoke_tool", "oauth_authorization_url", "oauth_credentials", "oauth_refresh"]
    with pytest.raises(PluginNotFound, match="has no operation 'oauth_authorization_url'"):
        args = {"redirect_uri": REDIRECT, "system_credentials": CLIENT}
        await ainvoke(registry, "tool_provider", "emitter", "oauth_authorization_url", args)


def test_oauth_schema_and_oauth_methods_come_together() -> None:
    class HalfDone(ToolProvider):
        schema = ToolProviderSchema(name="half", label="Half", description="d", oauth_schema=OAUTH)
        tools = [Inbox()]

        def oauth_get_authorization_url(
            self, redirect_uri: str, system_credentials: dict[str, Any], ctx: CallContext
        ) -> str:
            return "https://example.com/authorize"

    with pytest.raises(PluginLoadError, match="declares an oauth_schema but does not implement oauth_get_credentials"):
        load(plugin_of(HalfDone()))

    class Undeclared(Mail):
        schema = ToolProviderSchema(name="undeclared", label="U", description="d")

    with pytest.raises(PluginLoadError, match=r"implements oauth_get_authorization_url, .* but declares no"):
        load(plugin_of(Undeclared()))
