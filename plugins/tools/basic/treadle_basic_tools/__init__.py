"""Basic tools."""
