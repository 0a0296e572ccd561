from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    INVALID_ARGUMENT: _ClassVar[ErrorCode]
    NOT_FOUND: _ClassVar[ErrorCode]
    DEADLINE_EXCEEDED: _ClassVar[ErrorCode]
    UNAVAILABLE: _ClassVar[ErrorCode]
    PLUGIN_FAILED: _ClassVar[ErrorCode]
    MALFORMED_RESPONSE: _ClassVar[ErrorCode]
    CANCELLED: _ClassVar[ErrorCode]
    PERMISSION_DENIED: _ClassVar[ErrorCode]
    UNAUTHENTICATED: _ClassVar[ErrorCode]
    UNIMPLEMENTED: _ClassVar[ErrorCode]
    PROTOCOL: _ClassVar[ErrorCode]
    INTERNAL: _ClassVar[ErrorCode]
ERROR_CODE_UNSPECIFIED: ErrorCode
INVALID_ARGUMENT: ErrorCode
NOT_FOUND: ErrorCode
DEADLINE_EXCEEDED: ErrorCode
UNAVAILABLE: ErrorCode
PLUGIN_FAILED: ErrorCode
MALFORMED_RESPONSE: ErrorCode
CANCELLED: ErrorCode
PERMISSION_DENIED: ErrorCode
UNAUTHENTICATED: ErrorCode
UNIMPLEMENTED: ErrorCode
PROTOCOL: ErrorCode
INTERNAL: ErrorCode

class Frame(_message.Message):
    __slots__ = ("call_id", "call", "chunk", "end", "error", "cancel")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    call_id: int
    call: Call
    chunk: Chunk
    end: End
    error: Error
    cancel: Cancel
    def __init__(self, call_id: _Optional[int] = ..., call: _Optional[_Union[Call, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ..., end: _Optional[_Union[End, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., cancel: _Optional[_Union[Cancel, _Mapping]] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ("timeout", "describe", "invoke", "health", "kernel")
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DESCRIBE_FIELD_NUMBER: _ClassVar[int]
    INVOKE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    timeout: float
    describe: DescribeRequest
    invoke: InvokeRequest
    health: HealthRequest
    kernel: KernelRequest
    def __init__(self, timeout: _Optional[float] = ..., describe: _Optional[_Union[DescribeRequest, _Mapping]] = ..., invoke: _Optional[_Union[InvokeRequest, _Mapping]] = ..., health: _Optional[_Union[HealthRequest, _Mapping]] = ..., kernel: _Optional[_Union[KernelRequest, _Mapping]] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ("protocol_version",)
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: str
    def __init__(self, protocol_version: _Optional[str] = ...) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("protocol_version", "pid", "group", "plugins", "extensions")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    protocol_version: str
    pid: int
    group: str
    plugins: _containers.RepeatedCompositeFieldContainer[PluginInfo]
    extensions: _containers.RepeatedCompositeFieldContainer[ExtensionInfo]
    def __init__(self, protocol_version: _Optional[str] = ..., pid: _Optional[int] = ..., group: _Optional[str] = ..., plugins: _Optional[_Iterable[_Union[PluginInfo, _Mapping]]] = ..., extensions: _Optional[_Iterable[_Union[ExtensionInfo, _Mapping]]] = ...) -> None: ...

class PluginInfo(_message.Message):
    __slots__ = ("name", "distribution", "version", "load_error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    distribution: str
    version: str
    load_error: str
    def __init__(self, name: _Optional[str] = ..., distribution: _Optional[str] = ..., version: _Optional[str] = ..., load_error: _Optional[str] = ...) -> None: ...

class ExtensionInfo(_message.Message):
    __slots__ = ("kind", "name", "plugin", "schema", "operations")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    plugin: str
    schema: bytes
    operations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., plugin: _Optional[str] = ..., schema: _Optional[bytes] = ..., operations: _Optional[_Iterable[str]] = ...) -> None: ...

class InvokeRequest(_message.Message):
    __slots__ = ("kind", "name", "operation", "payload", "token", "tenant_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    operation: str
    payload: bytes
    token: str
    tenant_id: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., operation: _Optional[str] = ..., payload: _Optional[bytes] = ..., token: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("pid", "uptime", "in_flight")
    PID_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    pid: int
    uptime: float
    in_flight: int
    def __init__(self, pid: _Optional[int] = ..., uptime: _Optional[float] = ..., in_flight: _Optional[int] = ...) -> None: ...

class KernelRequest(_message.Message):
    __slots__ = ("token", "method", "payload")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    token: str
    method: str
    payload: bytes
    def __init__(self, token: _Optional[str] = ..., method: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("data", "described", "health")
    DATA_FIELD_NUMBER: _ClassVar[int]
    DESCRIBED_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    described: DescribeResponse
    health: HealthResponse
    def __init__(self, data: _Optional[bytes] = ..., described: _Optional[_Union[DescribeResponse, _Mapping]] = ..., health: _Optional[_Union[HealthResponse, _Mapping]] = ...) -> None: ...

class End(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Cancel(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "plugin", "call", "details")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    plugin: str
    call: str
    details: bytes
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., plugin: _Optional[str] = ..., call: _Optional[str] = ..., details: _Optional[bytes] = ...) -> None: ...
