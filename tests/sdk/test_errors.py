"""Typed plugin errors: their wire form, their builtin roots, and what API layers see of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from treadle_sdk import errors
from treadle_sdk.errors import ErrorCode, PluginError, error_for_code
from treadle_sdk.protocol import error_frame_body, error_from_frame, pb

# The one class each code stands for; UNSPECIFIED has none (it arrives only from a broken peer).
CLASS_OF_CODE: dict[ErrorCode, type[PluginError]] = {
    ErrorCode.INVALID_ARGUMENT: errors.PluginInvalidArgument,
    ErrorCode.NOT_FOUND: errors.PluginNotFound,
    ErrorCode.DEADLINE_EXCEEDED: errors.PluginTimeout,
    ErrorCode.UNAVAILABLE: errors.PluginUnavailable,
    ErrorCode.PLUGIN_FAILED: errors.PluginFailed,
    ErrorCode.MALFORMED_RESPONSE: errors.PluginMalformedResponse,
    ErrorCode.CANCELLED: errors.PluginCancelled,
    ErrorCode.PERMISSION_DENIED: errors.PluginPermissionDenied,
    ErrorCode.UNAUTHENTICATED: errors.PluginUnauthenticated,
    ErrorCode.UNIMPLEMENTED: errors.PluginUnimplemented,
    ErrorCode.PROTOCOL: errors.PluginProtocolError,
    ErrorCode.INTERNAL: errors.PluginInternalError,
}


def over_the_wire(exc: PluginError) -> PluginError:
    """Encode an error as an error frame, serialize and parse it, and decode it again."""
    frame = pb.Frame(call_id=7, error=error_frame_body(exc))
    return error_from_frame(pb.Frame.FromString(frame.SerializeToString()).error)


def test_every_code_but_unspecified_has_its_class() -> None:
    assert set(CLASS_OF_CODE) == set(ErrorCode) - {ErrorCode.UNSPECIFIED}
    for code, cls in CLASS_OF_CODE.items():
        assert cls.code is code


@pytest.mark.parametrize("code", list(CLASS_OF_CODE), ids=lambda c: c.name)
def test_error_round_trips_through_the_wire(code: ErrorCode) -> None:
    sent = error_for_code(
        code,
        "the thing went wrong",
        plugin="acme-tools",
        call="tool_provider/acme.invoke_tool",
        details={"field": "parameters.city", "limit": 3, "nested": {"ok": [1, 2]}},
    )
    received = over_the_wire(sent)
    assert type(received) is CLASS_OF_CODE[code]
    assert received.code is code
    assert received.message == "the thing went wrong"
    assert received.plugin == "acme-tools"
    assert received.call == "tool_provider/acme.invoke_tool"
    assert received.details == {"field": "parameters.city", "limit": 3, "nested": {"ok": [1, 2]}}
    assert str(received) == str(sent)


def test_error_without_details_round_trips_with_empty_details() -> None:
    received = over_the_wire(errors.PluginNotFound("no tool 'x'"))
    assert type(received) is errors.PluginNotFound
    assert (received.plugin, received.call, received.details) == ("", "", {})
    assert str(received) == "no tool 'x'"


def test_details_that_are_not_json_travel_as_text() -> None:
    received = over_the_wire(errors.PluginFailed("boom", details={"path": Path("/srv/data")}))
    assert received.details == {"path": "/srv/data"}


@pytest.mark.parametrize("code", [ErrorCode.UNSPECIFIED, 99])
def test_unspecified_and_unknown_codes_become_internal_errors(code: int) -> None:
    err = pb.Error(code=code, message="from a newer peer", plugin="p", call="node_type/x.run")
    received = error_from_frame(pb.Error.FromString(err.SerializeToString()))
    assert type(received) is errors.PluginInternalError
    assert (received.message, received.plugin, received.call) == ("from a newer peer", "p", "node_type/x.run")


def test_subclasses_travel_as_the_class_of_their_code() -> None:
    received = over_the_wire(errors.RegistrationError("bad schema", plugin="p"))
    assert type(received) is errors.PluginInvalidArgument
    assert received.plugin == "p"


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_error_codes_mirror_the_proto_enum(code: ErrorCode) -> None:
    wire_name = "ERROR_CODE_UNSPECIFIED" if code is ErrorCode.UNSPECIFIED else code.name
    assert pb.ErrorCode.Value(wire_name) == code.value


def test_proto_enum_has_no_code_the_sdk_lacks() -> None:
    assert sorted(pb.ErrorCode.values()) == sorted(code.value for code in ErrorCode)


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.PluginInvalidArgument, ValueError),
        (errors.PluginNotFound, LookupError),
        (errors.PluginTimeout, TimeoutError),
        (errors.PluginUnavailable, ConnectionError),
        (errors.PluginFailed, RuntimeError),
        (errors.PluginMalformedResponse, TypeError),
        (errors.PluginPermissionDenied, PermissionError),
        (errors.PluginUnauthenticated, PermissionError),
        (errors.PluginUnimplemented, NotImplementedError),
        (errors.PluginLoadError, ImportError),
        (errors.RegistrationError, ValueError),
    ],
)
def test_errors_are_rooted_in_the_matching_builtin(cls: type[PluginError], builtin: type[Exception]) -> None:
    assert issubclass(cls, PluginError)
    assert issubclass(cls, builtin)


def test_message_names_plugin_and_call() -> None:
    exc = errors.PluginFailed("the plugin raised KeyError: 'x'", plugin="acme", call="storage/s3.load")
    assert str(exc) == "plugin 'acme', call storage/s3.load: the plugin raised KeyError: 'x'"


def test_to_dict_is_the_shape_api_layers_show() -> None:
    exc = errors.PluginInvalidArgument("bad", plugin="acme", call="trigger/hook.dispatch", details={"loc": "body"})
    assert exc.to_dict() == {
        "code": "invalid_argument",
        "message": "bad",
        "plugin": "acme",
        "call": "trigger/hook.dispatch",
        "details": {"loc": "body"},
    }
