"""The plugin wire protocol: the versioned ``.proto``, its generated messages, and the connection."""

from . import treadle_plugin_v1_pb2 as pb
from .connection import MAX_FRAME_BYTES, CallStream, Connection, error_frame_body, error_from_frame

#: The protocol version spoken here; hosts and kernels must agree on the major number.
PROTOCOL_VERSION = "1.0"

__all__ = [
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "CallStream",
    "Connection",
    "error_frame_body",
    "error_from_frame",
    "pb",
]
