"""The Start (User Input) node (NODE-START): every field type and its validation, defaults, and what
the node outputs."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_core_nodes import InvalidInputs, validate_inputs
from treadle_core_nodes.start import TEXT_INPUT_MAX_LENGTH, parse_start
from treadle_sdk.nodes import NodeConfigError

from .support import MemoryRuntime, document, image, prepare


def field(variable: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"variable": variable, "label": variable.title(), "type": kind, "required": False, **extra}


def start(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "start", "variables": list(fields)}


def invalid(config: dict[str, Any], inputs: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInputs) as caught:
        validate_inputs(config, inputs)
    return caught.value.errors


# -- required, defaults, dropping ------------------------------------------------------------------


def test_missing_required_fields_are_each_named() -> None:
    """NODE-START: required fields; every wrong field is reported, not only the first."""
    config = start(
        field("name", "text-input", required=True), field("age", "number", required=True), field("note", "paragraph")
    )
    errors = invalid(config, {"note": "x"})
    assert errors == {"name": "is required", "age": "is required"}
    assert "name: is required" in str(InvalidInputs(errors))


@pytest.mark.parametrize("empty", [None, ""])
def test_an_empty_value_counts_as_missing(empty: Any) -> None:
    assert invalid(start(field("name", "text-input", required=True)), {"name": empty}) == {"name": "is required"}


def test_defaults_fill_missing_values_and_optional_fields_are_null() -> None:
    config = start(
        field("lang", "select", options=["en", "fr"], default="fr"),
        field("note", "paragraph"),
        field("n", "number", default=3),
    )
    assert validate_inputs(config, {}) == {"lang": "fr", "note": None, "n": 3}


def test_a_required_field_with_a_default_is_satisfied_by_it() -> None:
    assert validate_inputs(start(field("lang", "text-input", required=True, default="en")), {}) == {"lang": "en"}


def test_inputs_the_node_does_not_declare_are_dropped() -> None:
    assert validate_inputs(start(field("a", "text-input")), {"a": "x", "b": "y"}) == {"a": "x"}


def test_a_prepared_config_is_accepted_too() -> None:
    assert validate_inputs(parse_start(start(field("a", "text-input"))), {"a": "x"}) == {"a": "x"}


# -- text ------------------------------------------------------------------------------------------


def test_short_text_is_limited_to_its_max_length() -> None:
    config = start(field("title", "text-input", max_length=5))
    assert validate_inputs(config, {"title": "hello"}) == {"title": "hello"}
    assert invalid(config, {"title": "hello!"}) == {"title": "must be at most 5 characters, not 6"}


def test_short_text_without_a_max_length_takes_256() -> None:
    """NODE-START: Short Text is at most 256 characters unless configured."""
    config = start(field("title", "text-input", max_length=None))
    assert validate_inputs(config, {"title": "x" * TEXT_INPUT_MAX_LENGTH})
    assert "at most 256" in invalid(config, {"title": "x" * 257})["title"]


def test_paragraph_has_a_configurable_limit_and_none_by_default() -> None:
    assert validate_inputs(start(field("body", "paragraph")), {"body": "x" * 100_000})
    assert "at most 2048" in invalid(start(field("body", "paragraph", max_length=2048)), {"body": "x" * 2049})["body"]


@pytest.mark.parametrize("value", [{"a": 1}, ["a"], True])
def test_text_must_be_text(value: Any) -> None:
    assert invalid(start(field("t", "text-input")), {"t": value})["t"].startswith("must be text")


def test_numbers_are_accepted_as_text_and_null_bytes_removed() -> None:
    assert validate_inputs(start(field("t", "text-input")), {"t": 42}) == {"t": "42"}
    assert validate_inputs(start(field("t", "paragraph")), {"t": "a\x00b"}) == {"t": "ab"}


# -- select ----------------------------------------------------------------------------------------


def test_select_accepts_only_its_options() -> None:
    config = start(field("count", "select", options=["五言", "七言"]))
    assert validate_inputs(config, {"count": "七言"}) == {"count": "七言"}
    assert invalid(config, {"count": "九言"}) == {"count": "must be one of ['五言', '七言'], not '九言'"}


# -- number ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "number"), [(3, 3), (2.5, 2.5), ("7", 7), (" -1.5 ", -1.5), (0, 0)])
def test_number_accepts_numbers_and_numeric_text(value: Any, number: Any) -> None:
    assert validate_inputs(start(field("n", "number")), {"n": value}) == {"n": number}


@pytest.mark.parametrize("value", ["seven", True, [1], "nan", "inf"])
def test_number_refuses_anything_else(value: Any) -> None:
    assert "number" in invalid(start(field("n", "number")), {"n": value})["n"]


# -- checkbox --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "checked"), [(True, True), (False, False), ("true", True), ("False", False)])
def test_checkbox_is_true_or_false(value: Any, checked: bool) -> None:
    assert validate_inputs(start(field("ok", "checkbox")), {"ok": value}) == {"ok": checked}


def test_an_unchecked_checkbox_is_false_even_when_required() -> None:
    assert validate_inputs(start(field("ok", "checkbox", required=True)), {}) == {"ok": False}
    assert validate_inputs(start(field("ok", "checkbox", default=True)), {}) == {"ok": True}


def test_checkbox_refuses_other_values() -> None:
    assert invalid(start(field("ok", "checkbox")), {"ok": "yes"}) == {"ok": "must be true or false, not 'yes'"}


# -- JSON ------------------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}


def test_json_object_accepts_an_object_or_its_json_text() -> None:
    config = start(field("data", "json_object"))
    assert validate_inputs(config, {"data": {"a": 1}}) == {"data": {"a": 1}}
    assert validate_inputs(config, {"data": '{"a": [1, 2]}'}) == {"data": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("value", "message"),
    [("{not json", "is not valid JSON"), ("[1, 2]", "must be a JSON object"), (5, "must be a JSON object")],
)
def test_json_object_refuses_bad_json_and_non_objects(value: Any, message: str) -> None:
    assert message in invalid(start(field("data", "json_object")), {"data": value})["data"]


def test_json_object_is_checked_against_its_schema() -> None:
    """NODE-START: an optional JSON Schema validates the input."""
    config = start(field("person", "json_object", json_schema=SCHEMA))
    assert validate_inputs(config, {"person": {"name": "Ada", "age": 36}})
    assert "'name' is a required property" in invalid(config, {"person": {"age": 3}})["person"]
    error = invalid(config, {"person": {"name": "Ada", "age": -1}})["person"]
    assert error.startswith("does not match its JSON schema at /age")


def test_the_schema_may_be_json_text() -> None:
    import json

    config = start(field("person", "json_object", json_schema=json.dumps(SCHEMA)))
    assert "required" in invalid(config, {"person": {}})["person"]


def test_the_start_node_outputs_json_properties_readably() -> None:
    """The object is output whole, so downstream selectors reach its properties."""
    node = prepare("start", start(field("person", "json_object", json_schema=SCHEMA)), node_id="start")
    rt = MemoryRuntime({"start.person": {"name": "Ada"}})
    assert node.run(rt).outputs == {"person": {"name": "Ada"}}


@pytest.mark.parametrize(
    ("schema", "message"),
    [("{oops", "not valid JSON"), ({"type": "nonsense"}, "is invalid"), ([1], "must be an object")],
)
def test_a_bad_schema_is_a_configuration_error(schema: Any, message: str) -> None:
    with pytest.raises(NodeConfigError, match=message) as caught:
        prepare("start", start(field("p", "json_object", json_schema=schema)))
    assert caught.value.path == "variables[0].json_schema"


# -- files -----------------------------------------------------------------------------------------

UPLOAD = {"type": "image", "transfer_method": "local_file", "upload_file_id": "u1"}
LINK = {"type": "document", "transfer_method": "remote_url", "url": "https://example.com/a.pdf"}


def file_field(**extra: Any) -> dict[str, Any]:
    return field(
        "f",
        "file",
        allowed_file_types=["image", "document"],
        allowed_file_upload_methods=["local_file", "remote_url"],
        **extra,
    )


@pytest.mark.parametrize("value", [UPLOAD, LINK, image(), document()])
def test_a_file_field_takes_an_uploaded_or_linked_file(value: dict[str, Any]) -> None:
    assert validate_inputs(start(file_field()), {"f": value}) == {"f": value}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a.pdf", "must be a file object"),
        ({"type": "image"}, "needs a transfer_method"),
        ({"type": "image", "transfer_method": "carrier_pigeon"}, "needs a transfer_method"),
        ({"type": "image", "transfer_method": "remote_url"}, "without a url"),
        ({"type": "image", "transfer_method": "local_file"}, "without an upload_file_id"),
        ({**LINK, "type": "video"}, "is of type 'video'; allowed: ['document', 'image']"),
        ({**LINK, "type": "hologram"}, "unknown type"),
        ({**UPLOAD, "transfer_method": "tool_file", "upload_file_id": "t"}, "cannot be given by tool_file"),
    ],
)
def test_a_file_field_checks_the_file(value: Any, message: str) -> None:
    assert message in invalid(start(file_field()), {"f": value})["f"]


def test_custom_files_are_checked_against_the_allowed_extensions() -> None:
    config = start(field("f", "file", allowed_file_types=["custom"], allowed_file_extensions=[".csv", "TSV"]))
    ok = {"type": "custom", "transfer_method": "remote_url", "url": "https://x/y.csv", "filename": "y.csv"}
    assert validate_inputs(config, {"f": ok})
    assert validate_inputs(config, {"f": {**ok, "filename": "y.tsv"}})
    assert "extension '.exe'" in invalid(config, {"f": {**ok, "filename": "y.exe"}})["f"]


def test_a_file_list_takes_a_list_up_to_its_limit() -> None:
    """NODE-START: File List; max_length is the most files."""
    config = start(field("files", "file-list", max_length=2, allowed_file_types=["document", "image"]))
    assert validate_inputs(config, {"files": [UPLOAD, LINK]}) == {"files": [UPLOAD, LINK]}
    assert invalid(config, {"files": [UPLOAD, LINK, UPLOAD]}) == {"files": "must hold at most 2 files, not 3"}
    assert invalid(config, {"files": UPLOAD}) == {"files": "must be a list of files, not an object"}
    assert invalid(config, {"files": [UPLOAD, {"type": "image"}]})["files"].startswith("file 2 needs a transfer_method")


def test_an_empty_required_file_list_is_missing() -> None:
    assert invalid(start(field("files", "file-list", required=True)), {"files": []}) == {"files": "is required"}


# -- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ([field("a", "colour-picker")], "variables[0].type"),
        ([field("a", "text-input"), field("a", "number")], "variables[1].variable"),
        ([field("", "text-input")], "variables[0].variable"),
        ([field("my name", "text-input")], "variables[0].variable"),
        ([field("a", "text-input", max_length="long")], "variables[0].max_length"),
        ([field("a", "select", options="a,b")], "variables[0].options"),
        (["not an object"], "variables[0]"),
    ],
)
def test_bad_fields_are_configuration_errors(fields: list[Any], path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        prepare("start", {"variables": fields})
    assert caught.value.path == path


def test_the_corpus_shapes_prepare() -> None:
    """Field shapes as Dify exports them (max_length null, options [], unused keys)."""
    prepare(
        "start",
        start(
            {
                "label": "输入文本",
                "max_length": None,
                "options": [],
                "required": True,
                "type": "paragraph",
                "variable": "input_text",
            },
            {
                "allowed_file_extensions": [],
                "allowed_file_types": ["document"],
                "allowed_file_upload_methods": ["local_file", "remote_url"],
                "label": "语料文件",
                "max_length": 10,
                "options": [],
                "required": True,
                "type": "file-list",
                "variable": "attachments",
            },
        ),
    )


# -- the node --------------------------------------------------------------------------------------


def test_the_node_outputs_its_inputs_as_bound() -> None:
    """The engine binds validated inputs as [start_id, name]; the node outputs every declared one."""
    node = prepare("start", start(field("a", "text-input"), field("b", "number")), node_id="1711")
    assert node.run(MemoryRuntime({"1711.a": "x"}, node_id="1711")).outputs == {"a": "x", "b": None}
    assert node.selectors() == [("1711", "a"), ("1711", "b")]


def test_a_start_node_without_fields_outputs_nothing() -> None:
    assert prepare("start", {"variables": []}).run(MemoryRuntime()).outputs == {}
