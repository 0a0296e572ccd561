"""Throwaway plugins of the workspace settings tests."""
