"""The Treadle kernel: graph executor, tenancy, API and the plugin supervisor."""

__version__ = "0.1.0"
