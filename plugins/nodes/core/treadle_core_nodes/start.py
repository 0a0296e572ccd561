"""The Start (User Input) node: the input fields a run takes, and their validation (NODE-START).

Field types: ``text-input`` (short text, 256 characters unless ``max_length`` says otherwise),
``paragraph`` (``max_length`` if set), ``select`` (one of ``options``), ``number``, ``checkbox``,
``json_object`` (optionally checked against ``json_schema``), ``file`` and ``file-list`` (allowed
types, extensions and upload methods; ``max_length`` is the most files), plus ``required`` and
``default`` on every field. ``external_data_tool`` fields are taken as text.

The app layer calls :func:`validate_inputs` before a run starts; the engine then makes the values
readable as ``[start_node_id, variable]`` and the node outputs them again, so run records show them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError, best_match  # type: ignore[import-untyped]
from jsonschema.validators import validator_for  # type: ignore[import-untyped]
from treadle_sdk.dsl_fields import flag, integer, items, mapping, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRunError, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema

from .files import FILE_TYPES, TRANSFER_METHODS, file_attribute

__all__ = [
    "FIELD_TYPES",
    "TEXT_INPUT_MAX_LENGTH",
    "InputField",
    "InvalidInputs",
    "StartConfig",
    "StartNode",
    "StartNodeType",
    "parse_start",
    "validate_inputs",
]

#: The input field types of Dify's User Input node.
FIELD_TYPES = frozenset(
    {
        "text-input",
        "paragraph",
        "select",
        "number",
        "checkbox",
        "json_object",
        "file",
        "file-list",
        "external_data_tool",
    }
)
#: The length limit of a short text field that sets none (NODE-START).
TEXT_INPUT_MAX_LENGTH = 256

_TEXT_TYPES = frozenset({"text-input", "paragraph", "select", "external_data_tool"})


class InvalidInputs(ValueError):
    """The inputs of a run do not fit the Start node's fields. ``errors`` maps each field that is
    wrong to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        listed = "; ".join(f"{name}: {problem}" for name, problem in self.errors.items())
        super().__init__(f"invalid inputs: {listed}")


class _FieldError(Exception):
    """One field's value is wrong (collected into :class:`InvalidInputs`)."""


@dataclass(frozen=True, slots=True)
class InputField:
    """One input field of the Start node."""

    variable: str
    type: str
    label: str = ""
    required: bool = False
    default: Any = None
    max_length: int | None = None
    options: tuple[str, ...] = ()
    json_schema: Mapping[str, Any] | None = None
    allowed_file_types: frozenset[str] = frozenset()
    allowed_file_extensions: frozenset[str] = frozenset()
    allowed_upload_methods: frozenset[str] = frozenset()
    hide: bool = False
    #: The compiled JSON Schema validator (json_object fields with a schema).
    validator: Any = field(default=None, compare=False, repr=False)

    def validate(self, value: Any) -> Any:
        """The value to run with; raises :class:`_FieldError` saying what is wrong."""
        if value is None or (value == "" and self.type != "checkbox"):
            value = self.default
        if value is None or value == "" or value == []:
            if self.type == "checkbox":
                return False
            if self.required:
                raise _FieldError("is required")
            return None
        return _CHECKS[self.type](self, value)


# -- per-type checks -------------------------------------------------------------------------------


def _text(spec: InputField, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _FieldError(f"must be text, not {_kind(value)}")
    cleaned: str = value.replace("\x00", "")
    limit = spec.max_length
    if spec.type == "text-input" and not limit:
        limit = TEXT_INPUT_MAX_LENGTH
    if spec.type in {"text-input", "paragraph"} and limit and len(cleaned) > limit:
        raise _FieldError(f"must be at most {limit} characters, not {len(cleaned)}")
    return cleaned


def _select(spec: InputField, value: Any) -> str:
    text_value = _text(spec, value)
    if text_value not in spec.options:
        raise _FieldError(f"must be one of {list(spec.options)}, not {text_value!r}")
    return text_value


def _number(spec: InputField, value: Any) -> int | float:
    number: int | float
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _FieldError(f"must be a number, not {_kind(value)}")
    if isinstance(value, str):
        stripped = value.strip()
        try:
            number = int(stripped)
        except ValueError:
            try:
                number = float(stripped)
            except ValueError:
                raise _FieldError(f"must be a number, not {value!r}") from None
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        raise _FieldError(f"must be a finite number, not {value!r}")
    return number


def _checkbox(spec: InputField, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise _FieldError(f"must be true or false, not {value!r}")


def _json_object(spec: InputField, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _FieldError(f"is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _FieldError(f"must be a JSON object, not {_kind(value)}")
    if spec.validator is not None:
        error = best_match(spec.validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path)
            at = f" at /{where}" if where else ""
            raise _FieldError(f"does not match its JSON schema{at}: {error.message}")
    return value


def _file(spec: InputField, value: Any, what: str = "") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _FieldError(f"{what}must be a file object, not {_kind(value)}")
    method = value.get("transfer_method")
    if method not in TRANSFER_METHODS:
        raise _FieldError(f"{what}needs a transfer_method of {sorted(TRANSFER_METHODS)}, not {method!r}")
    if spec.allowed_upload_methods and method not in spec.allowed_upload_methods:
        raise _FieldError(f"{what}cannot be given by {method}; allowed: {sorted(spec.allowed_upload_methods)}")
    if method == "remote_url" and not (value.get("url") or value.get("remote_url")):
        raise _FieldError(f"{what}is a remote_url file without a url")
    if method in {"local_file", "tool_file"} and file_attribute(value, "related_id") is None:
        raise _FieldError(f"{what}is a {method} file without an upload_file_id")
    file_type = value.get("type")
    if file_type is not None and file_type not in FILE_TYPES:
        raise _FieldError(f"{what}has an unknown type {file_type!r}; expected one of {sorted(FILE_TYPES)}")
    allowed = spec.allowed_file_types
    if allowed and file_type is not None and file_type not in allowed:
        raise _FieldError(f"{what}is of type {file_type!r}; allowed: {sorted(allowed)}")
    if "custom" in allowed and file_type == "custom" and spec.allowed_file_extensions:
        extension = (file_attribute(value, "extension") or "").lower()
        if extension not in spec.allowed_file_extensions:
            raise _FieldError(
                f"{what}has the extension {extension or 'none'!r}; allowed: {sorted(spec.allowed_file_extensions)}"
            )
    return value


def _file_list(spec: InputField, value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise _FieldError(f"must be a list of files, not {_kind(value)}")
    if spec.max_length and len(value) > spec.max_length:
        raise _FieldError(f"must hold at most {spec.max_length} files, not {len(value)}")
    return [_file(spec, item, f"file {i + 1} ") for i, item in enumerate(value)]


_CHECKS: dict[str, Callable[[InputField, Any], Any]] = {
    "text-input": _text,
    "paragraph": _text,
    "external_data_tool": _text,
    "select": _select,
    "number": _number,
    "checkbox": _checkbox,
    "json_object": _json_object,
    "file": _file,
    "file-list": _file_list,
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# -- configuration ---------------------------------------------------------------------------------


def _json_schema(value: Any, path: str) -> tuple[Mapping[str, Any] | None, Any]:
    if value is None or value == "" or value == {}:
        return None, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise NodeConfigError(f"the JSON schema is not valid JSON: {exc}", path) from None
    if not isinstance(value, Mapping):
        raise NodeConfigError(f"the JSON schema must be an object, not {type(value).__name__}", path)
    cls = validator_for(value, default=Draft7Validator)
    try:
        cls.check_schema(value)
    except SchemaError as exc:
        raise NodeConfigError(f"the JSON schema is invalid: {exc.message}", path) from None
    return value, cls(value)


def _strings(value: Any, path: str) -> tuple[str, ...]:
    return tuple(text(item, f"{path}[{i}]") for i, item in enumerate(items(value, path)))


def _parse_field(data: Any, path: str) -> InputField:
    data = mapping(data, path)
    variable = text(data.get("variable"), f"{path}.variable")
    if not variable or any(ch.isspace() or ch == "." for ch in variable):
        raise NodeConfigError(
            f"an input needs a variable name without spaces or dots, not {variable!r}", f"{path}.variable"
        )
    kind = text(data.get("type"), f"{path}.type", "text-input")
    if kind not in FIELD_TYPES:
        raise NodeConfigError(
            f"unknown input type {kind!r}; expected one of {', '.join(sorted(FIELD_TYPES))}", f"{path}.type"
        )
    max_length = data.get("max_length")
    schema, validator = _json_schema(data.get("json_schema"), f"{path}.json_schema")
    extensions = _strings(data.get("allowed_file_extensions"), f"{path}.allowed_file_extensions")
    return InputField(
        variable=variable,
        type=kind,
        label=text(data.get("label"), f"{path}.label"),
        required=flag(data.get("required"), f"{path}.required"),
        default=data.get("default"),
        max_length=integer(max_length, f"{path}.max_length", 0, minimum=0) or None,
        options=_strings(data.get("options"), f"{path}.options"),
        json_schema=schema,
        allowed_file_types=frozenset(_strings(data.get("allowed_file_types"), f"{path}.allowed_file_types")),
        allowed_file_extensions=frozenset(
            (ext if ext.startswith(".") else "." + ext).lower() for ext in extensions if ext
        ),
        allowed_upload_methods=frozenset(
            _strings(data.get("allowed_file_upload_methods"), f"{path}.allowed_file_upload_methods")
        ),
        hide=flag(data.get("hide"), f"{path}.hide"),
        validator=validator,
    )


@dataclass(frozen=True, slots=True)
class StartConfig:
    """The Start node's input fields, in order."""

    fields: tuple[InputField, ...]


def parse_start(config: Mapping[str, Any]) -> StartConfig:
    """The input fields of a Start node's DSL ``data``; :class:`NodeConfigError` if one is wrong."""
    fields = tuple(
        _parse_field(item, f"variables[{i}]") for i, item in enumerate(items(config.get("variables"), "variables"))
    )
    seen: set[str] = set()
    for i, input_field in enumerate(fields):
        if input_field.variable in seen:
            raise NodeConfigError(f"the input {input_field.variable!r} is declared twice", f"variables[{i}].variable")
        seen.add(input_field.variable)
    return StartConfig(fields)


def validate_inputs(config: StartConfig | Mapping[str, Any], raw_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs a run starts with, checked against the Start node's fields and with defaults
    filled in (every declared field is present; an empty optional one is ``None``). Inputs the node
    does not declare are dropped. Raises :class:`InvalidInputs` naming every field that is wrong."""
    start = config if isinstance(config, StartConfig) else parse_start(config)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for input_field in start.fields:
        try:
            values[input_field.variable] = input_field.validate(raw_inputs.get(input_field.variable))
        except _FieldError as exc:
            errors[input_field.variable] = str(exc)
    if errors:
        raise InvalidInputs(errors)
    return values


# -- the node --------------------------------------------------------------------------------------


class StartNode(PreparedNode):
    """A prepared Start node: checks the inputs the run was given (bound as its own values) and
    outputs them checked, with defaults filled in; wrong inputs fail the run naming every field."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.start = parse_start(config)
        self._names = tuple(input_field.variable for input_field in self.start.fields)

    def selectors(self) -> list[tuple[str, ...]]:
        return [(self.node_id, name) for name in self._names]

    def run(self, rt: NodeRuntime) -> NodeResult:
        node_id = self.node_id
        get_or = rt.get_or
        raw = {name: get_or((node_id, name)) for name in self._names}
        try:
            return NodeResult(validate_inputs(self.start, raw))
        except InvalidInputs as exc:
            raise NodeRunError(str(exc), error_type="InvalidInputs") from None


class StartNodeType(NodeType):
    """``start``: the User Input node."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(
        name="start",
        label="User Input",
        description="Collects the inputs a run starts with: text, select, number, checkbox, JSON and file fields.",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return StartNode(node_id, config)
