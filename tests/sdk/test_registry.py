"""Loading plugins: attribution, collisions, rejected plugins and their reasons."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from treadle_sdk import hookspecs
from treadle_sdk.errors import PluginLoadError
from treadle_sdk.extensions import ExtensionKind, ModelProvider, NodeType, Tool, ToolProvider, VectorStore
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.registry import REGISTRATION_HOOKS, Registry, find_entry_points
from treadle_sdk.schemas import (
    ModelProviderSchema,
    NodeTypeSchema,
    ToolProviderSchema,
    ToolSchema,
    VectorStoreSchema,
)
from treadle_sdk.testing import load


def model_provider(name: str) -> ModelProvider:
    class Provider(ModelProvider):
        def count_tokens(self, args: Any, ctx: Any) -> int:
            return 1

    provider = Provider()
    provider.schema = ModelProviderSchema(name=name, label=name, supported_model_types=["llm"])
    return provider


def tool_provider(name: str, *tool_names: str) -> ToolProvider:
    class Echo(Tool):
        def __init__(self, tool_name: str) -> None:
            self.schema = ToolSchema(name=tool_name, label=tool_name, description="echoes")

        def invoke(self, parameters: dict[str, Any], ctx: Any, credentials: dict[str, Any]) -> str:
            return "echo"

    provider = ToolProvider()
    provider.schema = ToolProviderSchema(name=name, label=name, description="tools")
    provider.tools = [Echo(t) for t in tool_names]
    return provider


def node_type(name: str) -> NodeType:
    node = NodeType()
    node.schema = NodeTypeSchema(name=name, label=name)
    return node


def test_every_hookspec_is_a_registration_hook_the_registry_calls() -> None:
    specs = {name for name, obj in vars(hookspecs).items() if hasattr(obj, f"{hookspecs.PROJECT}_spec")}
    assert specs == set(REGISTRATION_HOOKS)


def test_extensions_are_attributed_to_the_plugin_that_registered_them() -> None:
    class Models:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("acme"))

    class Tools:
        @hookimpl
        def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
            register(tool_provider("kit", "echo", "shout"))

        @hookimpl
        def register_node_types(self, register: Callable[[NodeType], None]) -> None:
            register(node_type("uppercase"))

    registry = Registry()
    assert registry.add_plugin(Models(), "models-plugin").load_error == ""
    assert registry.add_plugin(Tools(), "tools-plugin").load_error == ""

    by_name = {(e.kind, e.name): e for e in registry.extensions}
    assert {key: e.plugin for key, e in by_name.items()} == {
        (ExtensionKind.MODEL_PROVIDER, "acme"): "models-plugin",
        (ExtensionKind.TOOL_PROVIDER, "kit"): "tools-plugin",
        (ExtensionKind.NODE_TYPE, "uppercase"): "tools-plugin",
    }
    # Only the operations a class overrides are offered, besides those the base class builds itself
    # (a node type's ``run``, a tool provider's ``invoke_tool``); a tool provider's schema lists its tools.
    assert by_name[ExtensionKind.MODEL_PROVIDER, "acme"].operations == ("count_tokens",)
    assert by_name[ExtensionKind.NODE_TYPE, "uppercase"].operations == ("run",)
    kit = by_name[ExtensionKind.TOOL_PROVIDER, "kit"]
    assert kit.operations == ("invoke_tool",)
    assert [t["name"] for t in kit.schema["tools"]] == ["echo", "shout"]
    assert registry.extensions.names("tool_provider") == ["kit"]


def test_name_collision_rejects_the_second_plugin_whole_and_names_both() -> None:
    class First:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("shared"))

    class Second:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("second-only"))
            register(model_provider("shared"))

        @hookimpl
        def register_node_types(self, register: Callable[[NodeType], None]) -> None:
            register(node_type("second-node"))

    registry = Registry()
    registry.add_plugin(First(), "first")
    second = registry.add_plugin(Second(), "second")

    assert second.name == "second"
    assert second.load_error == "model_provider 'shared' is already registered by plugin 'first'"
    assert registry.plugins["second"] is second
    assert [(e.name, e.plugin) for e in registry.extensions] == [("shared", "first")]
    assert not registry.pm.has_plugin("second")


def test_same_name_under_different_kinds_is_no_collision() -> None:
    class Plugin:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("acme"))

        @hookimpl
        def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
            register(tool_provider("acme", "echo"))

    registry = load(Plugin())
    assert sorted(e.kind.value for e in registry.extensions) == ["model_provider", "tool_provider"]


def test_a_plugin_registering_one_name_twice_is_rejected() -> None:
    class Plugin:
        @hookimpl
        def register_node_types(self, register: Callable[[NodeType], None]) -> None:
            register(node_type("twice"))
            register(node_type("twice"))

    registry = Registry()
    info = registry.add_plugin(Plugin(), "p")
    assert info.load_error == "node_type 'twice' is registered twice"
    assert len(registry.extensions) == 0


def test_a_hook_that_raises_rejects_its_plugin_with_the_reason_and_others_load() -> None:
    class Good:
        @hookimpl
        def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
            register(tool_provider("good", "echo"))

    class Broken:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("half-registered"))
            raise RuntimeError("ACME_API_BASE is not set")

        @hookimpl
        def register_node_types(self, register: Callable[[NodeType], None]) -> None:
            register(node_type("never-seen"))

    registry = Registry()
    broken = registry.add_plugin(Broken(), "broken")
    good = registry.add_plugin(Good(), "good")

    assert broken.load_error == "a registration hook raised RuntimeError: ACME_API_BASE is not set"
    assert good.load_error == ""
    assert [(e.name, e.plugin) for e in registry.extensions] == [("good", "good")]
    assert not registry.pm.has_plugin("broken")
    assert registry.pm.has_plugin("good")


def test_registering_the_wrong_kind_is_refused() -> None:
    class Plugin:
        @hookimpl
        def register_models(self, register: Callable[[Any], None]) -> None:
            register(tool_provider("acme", "echo"))

    info = Registry().add_plugin(Plugin(), "p")
    assert info.load_error == "register_models was given a ToolProvider; it takes ModelProvider instances"


def test_registering_a_plain_object_is_refused() -> None:
    class Plugin:
        @hookimpl
        def register_vector_stores(self, register: Callable[[Any], None]) -> None:
            register({"name": "memory"})

    info = Registry().add_plugin(Plugin(), "p")
    assert info.load_error == "register_vector_stores was given a dict; it takes VectorStore instances"


def test_a_schema_of_the_wrong_type_is_refused() -> None:
    class Plugin:
        @hookimpl
        def register_vector_stores(self, register: Callable[[VectorStore], None]) -> None:
            store = VectorStore()
            store.schema = NodeTypeSchema(name="memory", label="Memory")  # type: ignore[assignment]
            register(store)

    info = Registry().add_plugin(Plugin(), "p")
    assert info.load_error == "VectorStore.schema must be a VectorStoreSchema, not NodeTypeSchema"


def test_a_missing_schema_is_refused() -> None:
    class Plugin:
        @hookimpl
        def register_vector_stores(self, register: Callable[[VectorStore], None]) -> None:
            register(VectorStore())

    info = Registry().add_plugin(Plugin(), "p")
    assert info.load_error == "VectorStore.schema must be a VectorStoreSchema, not NoneType"


def test_an_invalid_schema_name_rejects_the_plugin_saying_why() -> None:
    class Plugin:
        @hookimpl
        def register_vector_stores(self, register: Callable[[VectorStore], None]) -> None:
            store = VectorStore()
            store.schema = VectorStoreSchema(name="in memory", label="Memory")
            register(store)

    info = Registry().add_plugin(Plugin(), "p")
    assert info.load_error.startswith("a registration hook raised ValidationError: 1 validation error")
    assert "'in memory' is not a valid name" in info.load_error


@pytest.mark.parametrize(
    ("tools", "reason"),
    [
        ((), "tool provider 'kit' must list Tool objects with a ToolSchema in .tools"),
        (("echo", "echo"), "tool provider 'kit' lists a tool name twice: ['echo', 'echo']"),
    ],
)
def test_tool_providers_need_distinct_tools(tools: tuple[str, ...], reason: str) -> None:
    class Plugin:
        @hookimpl
        def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
            register(tool_provider("kit", *tools))

    assert Registry().add_plugin(Plugin(), "p").load_error == reason


def test_hookimpl_with_an_argument_the_hookspec_lacks_is_rejected_not_raised() -> None:
    # Regression: pluggy's PluginValidationError escaped add_plugin and left the plugin listed as loaded.
    class Misspelt:
        @hookimpl
        def register_tools(self, reg: Callable[[ToolProvider], None]) -> None:
            reg(tool_provider("kit", "echo"))

    registry = Registry()
    info = registry.add_plugin(Misspelt(), "misspelt")
    assert info.load_error.startswith("pluggy refused the plugin: Plugin 'misspelt' for hook 'register_tools'")
    assert "{'reg'}" in info.load_error
    assert not registry.pm.has_plugin("misspelt")
    assert registry.add_plugin(Misspelt(), "misspelt-again").load_error.startswith("pluggy refused the plugin")


def test_hookimpl_of_a_hook_that_does_not_exist_is_rejected() -> None:
    # Regression: a misspelt hook name loaded silently and registered nothing.
    class Typo:
        @hookimpl
        def register_model(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("acme"))

    registry = Registry()
    info = registry.add_plugin(Typo(), "typo")
    assert info.load_error.startswith("the plugin implements register_model, which is not a treadle hook;")
    assert "register_models" in info.load_error
    assert not registry.pm.has_plugin("typo")


def test_optional_hookimpl_of_an_unknown_hook_is_allowed() -> None:
    class FromTheFuture:
        @hookimpl(optionalhook=True)
        def register_agent_strategies(self, register: Callable[[Any], None]) -> None:
            raise AssertionError("an unknown hook is never called")

        @hookimpl
        def register_node_types(self, register: Callable[[NodeType], None]) -> None:
            register(node_type("today"))

    registry = load(FromTheFuture())
    assert registry.extensions.names("node_type") == ["today"]


def test_hookimpl_may_take_fewer_arguments_than_the_spec() -> None:
    # Regression: the registry called every hookimpl with register=..., which pluggy does not require.
    called: list[str] = []

    class Quiet:
        @hookimpl
        def register_storage(self) -> None:
            called.append("register_storage")

    assert Registry().add_plugin(Quiet(), "quiet").load_error == ""
    assert called == ["register_storage"]


def test_a_second_plugin_under_a_taken_name_is_refused() -> None:
    class Plugin:
        def __init__(self, provider: str) -> None:
            self.provider = provider

        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider(self.provider))

    registry = Registry()
    first = registry.add_plugin(Plugin("one"), "same")
    second = registry.add_plugin(Plugin("two"), "same")
    assert first.load_error == ""
    assert second.load_error == "a plugin named 'same' is already loaded"
    assert registry.plugins["same"] is first
    assert registry.extensions.names("model_provider") == ["one"]


def test_the_same_plugin_object_twice_is_refused() -> None:
    class Plugin:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("acme"))

    registry = Registry()
    plugin = Plugin()
    registry.add_plugin(plugin, "a")
    info = registry.add_plugin(plugin, "b")
    assert info.load_error.startswith("pluggy refused the plugin: Plugin already registered under a different name")
    assert registry.pm.has_plugin("a")


def test_remove_plugin_drops_its_extensions() -> None:
    class Plugin:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(model_provider("acme"))

    registry = load(Plugin(), "p")
    registry.remove_plugin("p")
    assert len(registry.extensions) == 0
    assert "p" not in registry.plugins
    assert not registry.pm.has_plugin("p")
    assert registry.add_plugin(Plugin(), "p").load_error == ""


def test_load_path_of_a_missing_module_records_the_import_error() -> None:
    registry = Registry()
    info = registry.load_path("treadle_no_such_plugin_module")
    assert info.load_error == (
        "import of 'treadle_no_such_plugin_module' failed: "
        "ModuleNotFoundError: No module named 'treadle_no_such_plugin_module'"
    )
    assert registry.plugins["treadle_no_such_plugin_module"] is info
    assert len(registry.extensions) == 0


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A plugin module on sys.path, importable as ``treadle_test_plugin_mod``."""
    (tmp_path / "treadle_test_plugin_mod.py").write_text(
        textwrap.dedent(
            """
            from treadle_sdk import NodeType, hookimpl
            from treadle_sdk.schemas import NodeTypeSchema

            class Noop(NodeType):
                schema = NodeTypeSchema(name="noop", label="No-op")

            @hookimpl
            def register_node_types(register):
                register(Noop())

            class AsObject:
                @hookimpl
                def register_node_types(self, register):
                    register(Noop())

            plugin = AsObject()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "treadle_test_plugin_mod"
    sys.modules.pop("treadle_test_plugin_mod", None)


def test_load_path_of_a_module(plugin_module: str) -> None:
    registry = Registry()
    info = registry.load_path(plugin_module)
    assert info.load_error == ""
    [entry] = registry.extensions
    assert (entry.kind, entry.name, entry.plugin) == (ExtensionKind.NODE_TYPE, "noop", plugin_module)


def test_load_path_of_an_attribute(plugin_module: str) -> None:
    registry = Registry()
    assert registry.load_path(f"{plugin_module}:plugin").load_error == ""
    assert registry.extensions.names("node_type") == ["noop"]


def test_load_path_of_a_missing_attribute(plugin_module: str) -> None:
    info = Registry().load_path(f"{plugin_module}:Absent")
    assert info.load_error == (
        f"import of '{plugin_module}:Absent' failed: AttributeError: module '{plugin_module}' has no attribute 'Absent'"
    )


def test_load_entry_point(plugin_module: str) -> None:
    registry = Registry()
    ep = importlib.metadata.EntryPoint(name="noop-plugin", value=plugin_module, group="treadle")
    info = registry.load_entry_point(ep)
    assert (info.name, info.load_error) == ("noop-plugin", "")
    assert [e.plugin for e in registry.extensions] == ["noop-plugin"]


def test_load_entry_point_of_a_missing_module() -> None:
    registry = Registry()
    ep = importlib.metadata.EntryPoint(name="gone", value="treadle_gone_plugin:plugin", group="treadle")
    info = registry.load_entry_point(ep)
    assert info.load_error == (
        "import of 'treadle_gone_plugin:plugin' failed: ModuleNotFoundError: No module named 'treadle_gone_plugin'"
    )
    assert registry.plugins["gone"] is info


def test_find_entry_points_filters_by_name() -> None:
    assert find_entry_points([]) == []
    assert find_entry_points(["treadle-no-such-entry-point"]) == []
    everything = find_entry_points()
    assert [ep.name for ep in everything] == sorted(ep.name for ep in everything)
    assert all(ep.group == "treadle" for ep in everything)


def test_testing_load_raises_with_the_reason() -> None:
    class Broken:
        @hookimpl
        def register_triggers(self, register: Callable[[Any], None]) -> None:
            raise KeyError("config")

    with pytest.raises(PluginLoadError) as caught:
        load(Broken(), "broken")
    assert caught.value.plugin == "broken"
    assert caught.value.message == "a registration hook raised KeyError: 'config'"
