"""Workflow tools (``provider_type`` ``workflow``): a workflow app of the workspace, run as a tool
(WS-TOOLS, workflow tools).

A workflow app (mode ``workflow``; chatflows cannot be tools, as in Dify) becomes one tool: its
parameters are the Start node's input fields (type, required, label, description, default,
options), and its result is the run's End outputs, as a ``text`` message (the outputs as JSON text)
and a ``json`` message (the outputs object). A run that fails fails the call with
:class:`~treadle.tools.errors.ToolInvokeError` naming the node and its error.

:meth:`WorkflowTools.register` is how an app becomes a tool for now; publishing apps arrives with
the Service API, which will call it (and :meth:`WorkflowTools.unregister`) when an app is
published or withdrawn. The interface stays that narrow on purpose.

Nesting
-------
A workflow tool may run a workflow whose nodes call workflow tools in turn. Dify allows five levels
(``WORKFLOW_CALL_MAX_DEPTH``; :class:`~treadle.graph.RunLimits` ``max_depth``): the run started by
the fifth nested call still runs, the sixth call fails. That level is counted here, in a context
variable, and not with the ``depth`` a tool call receives, because that depth counts every nested
plugin call (a node calling a tool, a tool calling a model, ...) against ``MAX_CALL_DEPTH`` and
grows by a different amount per workflow level depending on where the nodes run. The context
variable follows the call from the nested run's engine tasks through inline nodes (tool and agent
nodes run inline by default) and the kernel client back to this class, since asyncio tasks inherit
the context they are created in. A node in a plugin host calls back through the host's own
connection, outside that context: there the chain is bounded by the plugin call depth instead,
which grows by at least one per workflow level once the engine hands its run's depth to the nodes
it runs in plugin hosts. The nested run also gets the level as its engine ``depth``, so the
engine's own limit agrees.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from treadle_sdk.context import KernelClient
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.schemas import (
    NAME_PATTERN,
    ToolParameter,
    ToolParameterOption,
    ToolParameterType,
    ToolSchema,
)

from ..graph import NodeFactory, RunLimits
from ..graph.dsl import AppDSL
from .errors import ToolInvokeError

if TYPE_CHECKING:
    from ..apps.workflow import WorkflowApp

__all__ = ["FIELD_TYPES", "RunHost", "WorkflowTool", "WorkflowTools", "workflow_level"]

#: Start node field types and the tool parameter type each becomes.
FIELD_TYPES: Mapping[str, ToolParameterType] = {
    "text-input": ToolParameterType.STRING,
    "paragraph": ToolParameterType.STRING,
    "external_data_tool": ToolParameterType.STRING,
    "json_object": ToolParameterType.STRING,
    "select": ToolParameterType.SELECT,
    "number": ToolParameterType.NUMBER,
    "checkbox": ToolParameterType.BOOLEAN,
    "file": ToolParameterType.FILE,
    "file-list": ToolParameterType.FILES,
}

_NOT_FOUND = "ToolProviderNotFoundError"

#: How many workflow tool runs enclose the code running now (0 outside any).
_LEVEL: ContextVar[int] = ContextVar("treadle_workflow_tool_level", default=0)


def workflow_level() -> int:
    """How many workflow tool runs enclose the caller (0 in a top-level run)."""
    return _LEVEL.get()


class RunHost(Protocol):
    """What runs a workflow tool's app: a way back into the kernel for its nodes
    (``PluginSupervisor.kernel_client``)."""

    def kernel_client(self, *, tenant_id: str = "", depth: int = 0) -> AbstractContextManager[KernelClient]: ...


@dataclass(frozen=True)
class WorkflowTool:
    """One workflow app registered as a tool of a workspace. ``name`` is the tool's name and its
    provider's (DSL files name the provider by ``id`` or name and the tool by name)."""

    tenant_id: str
    id: str
    name: str
    app: WorkflowApp
    schema: ToolSchema
    #: The End outputs the result carries.
    outputs: tuple[str, ...]


def _start_parameters(
    app: WorkflowApp, descriptions: Mapping[str, str]
) -> list[ToolParameter]:
    if app.start_node is None:
        raise ValueError("a workflow tool's app must start with a Start (User Input) node")
    fields = app.compiled.graph.nodes[app.start_node].data.get("variables") or []
    parameters = []
    for index, field in enumerate(fields if isinstance(fields, list) else []):
        where = f"the Start node's variables[{index}]"
        if not isinstance(field, Mapping) or not isinstance(field.get("variable"), str):
            raise ValueError(f"{where} is not an input field with a 'variable' name")
        name = field["variable"]
        kind = str(field.get("type") or "text-input")
        if kind not in FIELD_TYPES:
            raise ValueError(f"{where} ({name!r}) has the type {kind!r}, which a tool parameter cannot take")
        label = str(field.get("label") or name)
        description = descriptions.get(name) or str(field.get("description") or field.get("hint") or "")
        options = [
            ToolParameterOption(value=str(option), label=str(option))
            for option in (field.get("options") or [])
            if kind == "select"
        ]
        parameters.append(
            ToolParameter(
                name=name,
                type=FIELD_TYPES[kind],
                label=label,
                required=bool(field.get("required")),
                default=field.get("default") if field.get("default") not in ("", None) else None,
                options=options,
                human_description=description or None,
                llm_description=description or label,
            )
        )
    return parameters


def _end_outputs(app: WorkflowApp) -> tuple[str, ...]:
    names: list[str] = []
    for spec in app.compiled.graph.nodes.values():
        if spec.type != "end":
            continue
        for output in spec.data.get("outputs") or []:
            if isinstance(output, Mapping) and isinstance(output.get("variable"), str):
                names.append(output["variable"])
    return tuple(dict.fromkeys(names))


class WorkflowTools:
    """The ``workflow`` tool source: registered workflow apps, by workspace.

    :param host: runs the apps' nodes' kernel calls (the :class:`~treadle.plugins.PluginSupervisor`).
    :param factory: compiles apps given as DSL (``PluginNodeFactory(supervisor)``); not needed for
        apps given compiled.
    :param limits: the nested runs' limits; ``max_depth`` is the nesting limit (5, as in Dify).
    """

    def __init__(self, host: RunHost, factory: NodeFactory | None = None, *, limits: RunLimits | None = None) -> None:
        self.host = host
        self.factory = factory
        self.limits = limits or RunLimits()
        self._tools: dict[tuple[str, str], WorkflowTool] = {}

    def register(
        self,
        tenant_id: str,
        tool_name: str,
        app: WorkflowApp | AppDSL,
        label: str = "",
        description: str = "",
        *,
        parameter_descriptions: Mapping[str, str] | None = None,
        tool_id: str | None = None,
    ) -> WorkflowTool:
        """Make ``app`` (a mode ``workflow`` app, compiled or as loaded DSL) the tool ``tool_name`` of
        the workspace, replacing one of that name (its id kept unless ``tool_id`` is given).

        ``parameter_descriptions`` gives what the model reads for a parameter, where the Start
        field's own description or label is not enough. Raises :class:`ValueError` saying what is
        wrong: the name, the mode, a missing Start node, a field type no parameter can take.
        """
        if not isinstance(tool_name, str) or not NAME_PATTERN.match(tool_name):
            raise ValueError(
                f"{tool_name!r} is not a valid tool name: use 1-128 letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        if isinstance(app, AppDSL):
            app = self._compile(app)
        if app.mode != "workflow":
            raise ValueError(f"only workflow apps can be tools; {tool_name!r} is a {app.mode!r} app")
        parameters = _start_parameters(app, parameter_descriptions or {})
        outputs = _end_outputs(app)
        text = description or label or tool_name
        schema = ToolSchema(
            name=tool_name,
            label=label or tool_name,
            description=text,
            llm_description=text,
            parameters=parameters,
            output_schema={"type": "object", "properties": {name: {} for name in outputs}},
        )
        earlier = self._tools.get((tenant_id, tool_name))
        tool = WorkflowTool(
            tenant_id=tenant_id,
            id=tool_id or (earlier.id if earlier is not None else str(uuid.uuid4())),
            name=tool_name,
            app=app,
            schema=schema,
            outputs=outputs,
        )
        self._tools[(tenant_id, tool_name)] = tool
        return tool

    def _compile(self, dsl: AppDSL) -> WorkflowApp:
        # Imported here: treadle.apps imports the plugin supervisor, which imports this package.
        from ..apps.workflow import WorkflowApp

        if self.factory is None:
            raise ValueError("an app given as DSL needs a node factory: WorkflowTools(host, factory)")
        if dsl.mode != "workflow":
            raise ValueError(f"only workflow apps can be tools; this DSL is a {dsl.mode!r} app")
        return WorkflowApp.from_dsl(dsl, self.factory)

    def unregister(self, tenant_id: str, tool: str) -> None:
        """Withdraw a workflow tool (named or by id)."""
        found = self.tool(tenant_id, tool)
        del self._tools[(tenant_id, found.name)]

    def tools(self, tenant_id: str) -> list[WorkflowTool]:
        """The workspace's workflow tools, by name."""
        return sorted((t for (tenant, _), t in self._tools.items() if tenant == tenant_id), key=lambda t: t.name)

    def tool(self, tenant_id: str, provider: str) -> WorkflowTool:
        """The workflow tool called ``provider``, or whose id it is."""
        found = self._tools.get((tenant_id, provider))
        if found is not None:
            return found
        every = self.tools(tenant_id)
        for candidate in every:
            if candidate.id == provider:
                return candidate
        raise PluginNotFound(
            f"the workspace has no workflow tool {provider!r} (workflow tools: "
            f"{', '.join(t.name for t in every) or 'none'})",
            details={"provider": provider, "provider_type": "workflow", "error_type": _NOT_FOUND},
        )

    def _lookup(self, tenant_id: str, provider: str, tool: str) -> WorkflowTool:
        found = self.tool(tenant_id, provider)
        if tool != found.name:
            raise PluginNotFound(
                f"workflow tool provider {found.name!r} has one tool, {found.name!r}, not {tool!r}",
                details={"provider": found.name, "tool": tool, "error_type": _NOT_FOUND},
            )
        return found

    # -- the tool source --------------------------------------------------------------------------

    async def describe(self, tenant_id: str, provider: str, tool: str) -> ToolSchema:
        return self._lookup(tenant_id, provider, tool).schema

    async def invoke(
        self, tenant_id: str, provider: str, tool: str, parameters: dict[str, Any], *, depth: int
    ) -> AsyncIterator[Any]:
        from ..apps.workflow import RunRequest

        found = self._lookup(tenant_id, provider, tool)
        inputs = _inputs(found, parameters)
        level = _LEVEL.get() + 1
        limit = self.limits.max_depth
        if level > limit:
            raise ToolInvokeError(
                f"workflow tool {found.name!r} would run a workflow nested {level} deep; "
                f"workflow tools may nest at most {limit} deep",
                details={"tool": found.name, "level": level, "limit": limit},
            )
        # Set and reset within one step of this generator: the caller's context is the same for both.
        token = _LEVEL.set(level)
        try:
            with self.host.kernel_client(tenant_id=tenant_id, depth=depth) as kernel:
                run = found.app.new_run(RunRequest(inputs=inputs), limits=self.limits, kernel=kernel)
                run.depth = level
                result = await run.run()
        finally:
            _LEVEL.reset(token)
        if result.status != "succeeded":
            where = f" at node {result.failed_node!r}" if result.failed_node else ""
            raise ToolInvokeError(
                f"workflow tool {found.name!r} {result.status}{where}: {result.error or 'no reason given'}",
                details={
                    "tool": found.name,
                    "status": result.status,
                    "node_id": result.failed_node,
                    "run_error_type": result.error_type,
                },
            )
        outputs = dict(result.outputs)
        yield {"type": "text", "text": json.dumps(outputs, ensure_ascii=False, default=str)}
        yield {"type": "json", "json_object": json.loads(json.dumps(outputs, default=str))}


def _inputs(tool: WorkflowTool, parameters: Mapping[str, Any]) -> dict[str, Any]:
    known = {p.name: p for p in tool.schema.parameters}
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise PluginInvalidArgument(
            f"workflow tool {tool.name!r} has no parameter(s) {', '.join(map(repr, unknown))} "
            f"(parameters: {', '.join(known) or 'none'})",
            details={"tool": tool.name, "unknown": unknown},
        )
    for name, parameter in known.items():
        if parameter.required and parameter.default is None and parameters.get(name) in (None, "", []):
            raise PluginInvalidArgument(
                f"parameter {name!r} of workflow tool {tool.name!r} is required",
                details={"tool": tool.name, "parameter": name},
            )
    return dict(parameters)
