"""Where the tests find PostgreSQL and Redis (``TREADLE_TEST_POSTGRES_URL``, ``TREADLE_TEST_REDIS_URL``)."""

from __future__ import annotations

import os

POSTGRES_URL = os.environ.get("TREADLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TREADLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
