"""A sentence encoder: tokenize, run the BERT encoder, mean-pool over real tokens, L2-normalise.

This is what sentence-transformers does for all-MiniLM-L6-v2 (its modules are Transformer,
Pooling with ``pooling_mode_mean_tokens`` and Normalize), read from the model's own files.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from .bert import BertConfig, BertEncoder, FloatArray, IntArray

__all__ = ["BATCH_SIZE", "Embeddings", "SentenceEncoder", "load_sentence_encoder"]

#: Texts run through the encoder together; more only costs memory, fewer wastes numpy's matmuls.
BATCH_SIZE = 32


@dataclass(frozen=True)
class Embeddings:
    """Unit vectors, one row per text, and how many tokens (special tokens included) each took."""

    vectors: FloatArray
    tokens: list[int]


class SentenceEncoder:
    """A sentence-transformers model directory (BERT + mean pooling + normalisation) run in numpy."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        config = BertConfig.from_json(json.loads((model_dir / "config.json").read_text()))
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or any(
            pooling.get(mode) for mode in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
        ):
            raise ValueError(f"{model_dir}: only mean pooling is supported, not {pooling}")
        self.max_seq_length = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.dimensions = config.hidden_size
        self.encoder = BertEncoder(config, load_file(str(model_dir / "model.safetensors")))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json pads every text to 128 and cuts there; sentence-transformers instead pads to
        # the longest text of the batch and cuts at max_seq_length.
        self.tokenizer.enable_truncation(self.max_seq_length)
        pad_id = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")

    def encode(self, texts: list[str]) -> Embeddings:
        """The embeddings of ``texts``, computed in batches of similar length."""
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        tokens = [0] * len(texts)
        if not texts:
            return Embeddings(vectors, tokens)
        lengths = [len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts, add_special_tokens=True)]
        # Batching texts of similar length keeps padding, which is computed and thrown away, small.
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        for start in range(0, len(order), BATCH_SIZE):
            indices = order[start : start + BATCH_SIZE]
            batch_vectors, batch_tokens = self._encode_batch([texts[i] for i in indices])
            vectors[indices] = batch_vectors
            for i, count in zip(indices, batch_tokens, strict=True):
                tokens[i] = count
        return Embeddings(vectors, tokens)

    def _encode_batch(self, texts: list[str]) -> tuple[FloatArray, list[int]]:
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        input_ids: IntArray = np.array([e.ids for e in encodings], dtype=np.int64)
        mask: IntArray = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        type_ids: IntArray = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self.encoder(input_ids, mask, type_ids)
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        normalised: FloatArray = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return normalised, [int(n) for n in mask.sum(axis=1)]


_loaded: dict[Path, SentenceEncoder] = {}
_loading = threading.Lock()


def load_sentence_encoder(model_dir: Path) -> SentenceEncoder:
    """The encoder of ``model_dir``, loaded on first use and then shared by every call in the process."""
    with _loading:
        encoder = _loaded.get(model_dir)
        if encoder is None:
            encoder = _loaded[model_dir] = SentenceEncoder(model_dir)
        return encoder
