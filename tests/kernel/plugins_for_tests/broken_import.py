"""A plugin module whose import fails, as one with a missing dependency does."""

from __future__ import annotations

import treadle_tests_no_such_dependency  # noqa: F401
