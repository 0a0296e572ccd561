"""The workflow engine: DSL to graph, scheduler, variable pool, events (issue 3 builds it here).

This package imports no database, broker, web or configuration module: hosts inject ports.
tests/test_layering.py enforces it.
"""

__all__: list[str] = []
