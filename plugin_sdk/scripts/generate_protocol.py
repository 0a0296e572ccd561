"""Regenerate the Python stubs of the plugin wire protocol from its ``.proto``.

    python plugin_sdk/scripts/generate_protocol.py              # rewrite the committed stubs
    python plugin_sdk/scripts/generate_protocol.py --out DIR    # write them to DIR instead

It runs ``python -m grpc_tools.protoc`` on ``treadle_sdk/protocol/treadle_plugin_v1.proto`` with
``--python_out`` and ``--pyi_out``. The output depends on the protoc bundled with grpcio-tools, so the
script refuses to run with any version other than the one pinned in the root ``pyproject.toml``;
``tests/sdk/test_protocol_stubs.py`` checks that the committed stubs are what this script writes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

SDK = Path(__file__).resolve().parents[1]
PROTOCOL_DIR = SDK / "treadle_sdk" / "protocol"
PROTO = PROTOCOL_DIR / "treadle_plugin_v1.proto"
STUBS = ("treadle_plugin_v1_pb2.py", "treadle_plugin_v1_pb2.pyi")
WORKSPACE_PYPROJECT = SDK.parent / "pyproject.toml"


def pinned_grpcio_tools() -> str:
    """The grpcio-tools version pinned among the workspace's dev dependencies."""
    project = tomllib.loads(WORKSPACE_PYPROJECT.read_text())["project"]
    requirement: str
    for requirement in project["optional-dependencies"]["dev"]:
        name, _, version = requirement.partition("==")
        if name.strip() == "grpcio-tools":
            return version.strip()
    raise LookupError(f"{WORKSPACE_PYPROJECT} pins no grpcio-tools version in its dev dependencies")


def generate(out: Path) -> list[Path]:
    """Write the stubs into ``out``; return their paths."""
    pinned = pinned_grpcio_tools()
    try:
        installed = importlib.metadata.version("grpcio-tools")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"grpcio-tools is not installed; install grpcio-tools=={pinned}") from None
    if installed != pinned:
        raise SystemExit(
            f"grpcio-tools {installed} is installed, but the stubs are generated with {pinned} "
            f"(pinned in {WORKSPACE_PYPROJECT}); install grpcio-tools=={pinned}"
        )
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTOCOL_DIR}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            str(PROTO),
        ],
        check=True,
    )
    return [out / name for name in STUBS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROTOCOL_DIR, help=f"output directory (default {PROTOCOL_DIR})")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
