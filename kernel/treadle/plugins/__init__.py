"""Plugins, seen from the kernel: discovery, placement, hosts (inline and out of process), supervision."""

from .hosts import HostState, PluginHostHandle
from .inline import InlineHost
from .kernel_services import AppInvoker, KernelServices
from .kv import KVStore, MemoryKVStore, SqliteKVStore
from .placement import FIRST_PARTY_DISTRIBUTIONS, FIRST_PARTY_GROUP, INLINE, GroupPlan, PluginSpec, plan_groups
from .remote import RemoteHost
from .supervisor import PluginSupervisor

__all__ = [
    "FIRST_PARTY_DISTRIBUTIONS",
    "FIRST_PARTY_GROUP",
    "INLINE",
    "AppInvoker",
    "GroupPlan",
    "HostState",
    "InlineHost",
    "KVStore",
    "KernelServices",
    "MemoryKVStore",
    "PluginHostHandle",
    "PluginSpec",
    "PluginSupervisor",
    "RemoteHost",
    "SqliteKVStore",
    "plan_groups",
]
