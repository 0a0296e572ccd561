"""The Code node: Python 3 or JavaScript with Dify's ``main()`` contract, in a sandbox (NODE-CODE).

DSL ``data``: ``code``; ``code_language`` ``python3`` (the default) or ``javascript``;
``variables: [{variable, value_selector}]`` naming the inputs (a variable that does not exist is
``null``, as in Dify); ``outputs: {name: {type, children}}`` declaring what ``main()`` returns.
Treadle also reads an optional ``limits`` object that lowers the installation's sandbox limits for
this node (``timeout``, ``cpu_seconds``, ``memory_mb``, ``max_processes``, ``max_file_size_mb``).

Python code defines ``def main(arg1, arg2) -> dict`` and is called as ``main(**inputs)``;
JavaScript defines ``function main({arg1, arg2})`` and is called with the inputs as one object.
Either may return a promise or coroutine. Every run is a fresh sandbox process (see
:mod:`treadle_code_node.sandbox`); the code never runs in the plugin host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

from .outputs import OutputChecker, OutputSpec, parse_outputs
from .sandbox import Sandbox
from .settings import CodeSettings, SandboxLimits

__all__ = ["LANGUAGES", "CodeNode", "CodeNodeType", "CodeVariable"]

#: The DSL's ``code_language`` values and the sandbox's name for each.
LANGUAGES = {"python3": "python", "javascript": "javascript"}


@dataclass(frozen=True, slots=True)
class CodeVariable:
    """An input of ``main()`` and where its value comes from (None: always ``null``)."""

    name: str
    selector: Selector | None


def _parse_variables(raw: Any) -> tuple[CodeVariable, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise NodeConfigError("must be a list of {variable, value_selector}", "variables")
    variables: list[CodeVariable] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        path = f"variables[{index}]"
        if not isinstance(item, Mapping):
            raise NodeConfigError("must be an object with variable and value_selector", path)
        name = item.get("variable")
        if not isinstance(name, str) or not name:
            raise NodeConfigError("must be the input's name", f"{path}.variable")
        if name in seen:
            raise NodeConfigError(f"the input {name!r} is declared twice", f"{path}.variable")
        seen.add(name)
        selector = item.get("value_selector")
        if selector is None or selector == []:
            variables.append(CodeVariable(name, None))
        elif isinstance(selector, list) and len(selector) >= 2 and all(isinstance(p, str) and p for p in selector):
            variables.append(CodeVariable(name, tuple(selector)))
        else:
            raise NodeConfigError(
                f"expected a variable selector such as [node_id, variable], not {selector!r}", f"{path}.value_selector"
            )
    return tuple(variables)


class CodeNode(PreparedNode):
    """A prepared code node: configuration checked once, each run a fresh sandbox."""

    def __init__(
        self,
        node_id: str,
        config: Mapping[str, Any],
        *,
        language: str,
        code: str,
        variables: tuple[CodeVariable, ...],
        outputs: Mapping[str, OutputSpec],
        limits: SandboxLimits,
        sandbox: Sandbox,
        checker: OutputChecker,
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.language = language
        self.code = code
        self.variables = variables
        self.outputs = outputs
        self.limits = limits
        self.sandbox = sandbox
        self.checker = checker

    def selectors(self) -> list[Selector]:
        return list(dict.fromkeys(v.selector for v in self.variables if v.selector is not None))

    async def run(self, rt: NodeRuntime) -> NodeResult:
        inputs = {v.name: None if v.selector is None else rt.get_or(v.selector) for v in self.variables}
        result = await self.sandbox.run(LANGUAGES[self.language], self.code, inputs, self.limits)
        return NodeResult(outputs=self.checker.check(result, self.outputs), inputs=inputs)


class CodeNodeType(NodeType):
    """The ``code`` node type (NODE-CODE). ``settings`` default to :meth:`CodeSettings.from_env`."""

    schema = NodeTypeSchema(
        name="code",
        label="Code",
        description="Run Python 3 or JavaScript in a sandbox: main(inputs) returns the declared outputs.",
    )

    def __init__(self, settings: CodeSettings | None = None) -> None:
        self.settings = CodeSettings.from_env() if settings is None else settings
        self.sandbox = Sandbox(self.settings)
        self.checker = OutputChecker(self.settings.outputs)

    def prepare(self, node_id: str, config: dict[str, Any]) -> CodeNode:
        code = config.get("code")
        if not isinstance(code, str):
            raise NodeConfigError("must be the code's text", "code")
        language = config.get("code_language") or "python3"
        if language not in LANGUAGES:
            raise NodeConfigError(f"unknown language {language!r}; one of {', '.join(LANGUAGES)}", "code_language")
        if language == "javascript" and self.sandbox.node_binary() is None:
            raise NodeConfigError(self.sandbox.missing_node_message(), "code_language")
        return CodeNode(
            node_id,
            config,
            language=language,
            code=code,
            variables=_parse_variables(config.get("variables")),
            outputs=parse_outputs(config.get("outputs")),
            limits=self.settings.limits.lowered(config.get("limits"), "limits"),
            sandbox=self.sandbox,
            checker=self.checker,
        )
