"""The fake model provider."""
