"""Helpers shared by test packages (imported as ``support``: pytest puts ``tests/`` on the path)."""
