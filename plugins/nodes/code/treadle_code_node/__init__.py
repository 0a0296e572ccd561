"""The code node: Python 3 and JavaScript in a sandbox process with no network and resource limits."""
