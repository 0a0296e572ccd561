"""The committed protocol stubs are exactly what the regeneration script writes from the .proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "plugin_sdk" / "scripts" / "generate_protocol.py"
PROTOCOL_DIR = ROOT / "plugin_sdk" / "treadle_sdk" / "protocol"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stubs")
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("stub", ["treadle_plugin_v1_pb2.py", "treadle_plugin_v1_pb2.pyi"])
def test_committed_stub_matches_the_proto(stub: str, regenerated: Path) -> None:
    assert (regenerated / stub).read_bytes() == (PROTOCOL_DIR / stub).read_bytes(), (
        f"treadle_sdk/protocol/{stub} is out of date with treadle_plugin_v1.proto; "
        f"run: python {SCRIPT.relative_to(ROOT)}"
    )
