"""What the local embeddings provider describes about itself: one predefined model, no credentials."""

from __future__ import annotations

from treadle_sdk.schemas import ModelProviderSchema, ModelSchema, ModelType

__all__ = ["CONTEXT_SIZE", "DIMENSIONS", "MAX_CHUNKS", "MINILM", "PROVIDER_SCHEMA"]

MINILM = "all-MiniLM-L6-v2"
DIMENSIONS = 384
#: sentence_bert_config.json's max_seq_length: longer texts are cut to their first 256 tokens.
CONTEXT_SIZE = 256
MAX_CHUNKS = 64

PROVIDER_SCHEMA = ModelProviderSchema(
    name="local_embeddings",
    label="Local embeddings",
    description=(
        "Text embeddings computed on this machine's CPU, with no network and no API key: "
        f"sentence-transformers' {MINILM} ({DIMENSIONS} dimensions) run in numpy."
    ),
    supported_model_types=[ModelType.TEXT_EMBEDDING],
    models=[
        ModelSchema(
            model=MINILM,
            label="all-MiniLM-L6-v2",
            model_type=ModelType.TEXT_EMBEDDING,
            model_properties={"context_size": CONTEXT_SIZE, "max_chunks": MAX_CHUNKS, "dimensions": DIMENSIONS},
        ),
    ],
)
