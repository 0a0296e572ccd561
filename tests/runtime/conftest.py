"""Databases on each backend for the runtime tests, and small DSL files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.databases import migrated_database
from treadle.store import Database

#: A workflow app with a secret and a plain environment variable; start -> end, no plugin needed.
WORKFLOW_DSL = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Echo, description: says it back, icon: "🦜", icon_background: "#E4FBCC"}
workflow:
  features: {file_upload: {enabled: false}}
  environment_variables:
  - {id: env-key, name: api_key, value_type: secret, value: sk-very-secret-1234}
  - {id: env-region, name: region, value_type: string, value: eu}
  conversation_variables: []
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: [{variable: text, label: Text, type: text-input, required: true}]}
    - id: end
      data: {type: end, title: End, outputs: [{variable: out, value_selector: [start, text]}]}
    edges:
    - {id: start-end, source: start, target: end}
"""

COMPLETION_DSL = """\
version: 0.5.0
kind: app
app: {mode: completion, name: Writer}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "Write about {{topic}}"
  user_input_form: [{text-input: {variable: topic, label: Topic, required: true}}]
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database at the newest revision."""
    async with migrated_database(request.param, tmp_path) as database:
        yield database
