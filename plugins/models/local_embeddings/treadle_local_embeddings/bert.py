"""The forward pass of a BERT encoder in numpy, enough to run all-MiniLM-L6-v2 without PyTorch.

It follows Hugging Face's ``BertModel`` (absolute position embeddings, post-layer-norm blocks, exact
GELU) in float32, in inference mode: dropout is the identity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BertConfig", "BertEncoder", "FloatArray", "IntArray", "erf", "gelu"]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Abramowitz and Stegun 7.1.26: |error| < 1.5e-7 (under 5e-7 once computed in float32), about float32's
# own resolution. numpy has no erf, and scipy would be a heavy dependency for one function.
_P = np.float32(0.3275911)
_A = tuple(np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_SQRT_HALF = np.float32(1 / math.sqrt(2))


def erf(x: FloatArray) -> FloatArray:
    """The error function, element-wise (absolute error below 5e-7 in float32)."""
    # In place where possible: on long batches the activations are tens of millions of elements.
    a = np.abs(x)
    t = _P * a
    t += 1
    np.reciprocal(t, out=t)
    a1, a2, a3, a4, a5 = _A
    poly = t * a5
    for coefficient in (a4, a3, a2, a1):
        poly += coefficient
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1, poly, out=poly)
    result: FloatArray = np.copysign(poly, x, out=poly)
    return result


def gelu(x: FloatArray) -> FloatArray:
    """BERT's GELU, the exact erf form (not the tanh approximation)."""
    result = erf(x * _SQRT_HALF)
    result += 1
    result *= x
    result *= np.float32(0.5)
    return result


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    result: FloatArray = centred / np.sqrt(variance + np.float32(eps)) * weight + bias
    return result


@dataclass(frozen=True)
class BertConfig:
    """The shape of a BERT encoder, as its ``config.json`` gives it."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    layer_norm_eps: float
    max_position_embeddings: int
    hidden_act: str = "gelu"
    position_embedding_type: str = "absolute"

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> BertConfig:
        """The config of a ``config.json`` mapping; raises ValueError for what this encoder can't run."""
        config = cls(
            hidden_size=int(str(data["hidden_size"])),
            num_hidden_layers=int(str(data["num_hidden_layers"])),
            num_attention_heads=int(str(data["num_attention_heads"])),
            intermediate_size=int(str(data["intermediate_size"])),
            layer_norm_eps=float(str(data["layer_norm_eps"])),
            max_position_embeddings=int(str(data["max_position_embeddings"])),
            hidden_act=str(data.get("hidden_act", "gelu")),
            position_embedding_type=str(data.get("position_embedding_type", "absolute")),
        )
        if config.hidden_act != "gelu" or config.position_embedding_type != "absolute":
            raise ValueError(
                f"unsupported BERT variant: hidden_act={config.hidden_act!r}, "
                f"position_embedding_type={config.position_embedding_type!r} (need 'gelu' and 'absolute')"
            )
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(
                f"hidden_size {config.hidden_size} is not a multiple of "
                f"num_attention_heads {config.num_attention_heads}"
            )
        return config


@dataclass(frozen=True)
class _Layer:
    qkv_weight: FloatArray  # (hidden, 3 * hidden): query, key and value in one matmul
    qkv_bias: FloatArray
    attention_out_weight: FloatArray
    attention_out_bias: FloatArray
    attention_norm_weight: FloatArray
    attention_norm_bias: FloatArray
    intermediate_weight: FloatArray
    intermediate_bias: FloatArray
    output_weight: FloatArray
    output_bias: FloatArray
    output_norm_weight: FloatArray
    output_norm_bias: FloatArray


def _f32(array: npt.NDArray[np.generic]) -> FloatArray:
    return np.ascontiguousarray(array, dtype=np.float32)


class BertEncoder:
    """A BERT encoder built from a Hugging Face state dict (``torch.nn.Linear`` weights are (out, in))."""

    def __init__(self, config: BertConfig, weights: Mapping[str, npt.NDArray[np.generic]]) -> None:
        self.config = config

        def get(name: str) -> FloatArray:
            # Checkpoints saved from BertModel have bare names; those from BertFor... a 'bert.' prefix.
            for key in (name, f"bert.{name}"):
                if key in weights:
                    return _f32(weights[key])
            raise KeyError(f"the checkpoint has no weight {name!r}")

        def linear(prefix: str) -> tuple[FloatArray, FloatArray]:
            return _f32(get(f"{prefix}.weight").T), get(f"{prefix}.bias")

        self.word_embeddings = get("embeddings.word_embeddings.weight")
        self.position_embeddings = get("embeddings.position_embeddings.weight")
        self.token_type_embeddings = get("embeddings.token_type_embeddings.weight")
        self.embedding_norm = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self.layers: list[_Layer] = []
        for i in range(config.num_hidden_layers):
            p = f"encoder.layer.{i}"
            projections = [linear(f"{p}.attention.self.{name}") for name in ("query", "key", "value")]
            attention_out = linear(f"{p}.attention.output.dense")
            intermediate = linear(f"{p}.intermediate.dense")
            output = linear(f"{p}.output.dense")
            self.layers.append(
                _Layer(
                    qkv_weight=_f32(np.concatenate([w for w, _ in projections], axis=1)),
                    qkv_bias=_f32(np.concatenate([b for _, b in projections])),
                    attention_out_weight=attention_out[0],
                    attention_out_bias=attention_out[1],
                    attention_norm_weight=get(f"{p}.attention.output.LayerNorm.weight"),
                    attention_norm_bias=get(f"{p}.attention.output.LayerNorm.bias"),
                    intermediate_weight=intermediate[0],
                    intermediate_bias=intermediate[1],
                    output_weight=output[0],
                    output_bias=output[1],
                    output_norm_weight=get(f"{p}.output.LayerNorm.weight"),
                    output_norm_bias=get(f"{p}.output.LayerNorm.bias"),
                )
            )

    def __call__(self, input_ids: IntArray, attention_mask: IntArray, token_type_ids: IntArray) -> FloatArray:
        """The last hidden states, (batch, length, hidden), of a padded batch of token ids."""
        config = self.config
        batch, length = input_ids.shape
        if length > config.max_position_embeddings:
            raise ValueError(f"{length} tokens exceed the model's {config.max_position_embeddings} positions")
        eps = config.layer_norm_eps
        hidden = (
            self.word_embeddings[input_ids]
            + self.position_embeddings[np.arange(length)][None, :, :]
            + self.token_type_embeddings[token_type_ids]
        )
        # Dense layers see the batch as one (batch * length, hidden) matrix: a single BLAS call each.
        hidden = _layer_norm(hidden, *self.embedding_norm, eps).reshape(batch * length, config.hidden_size)
        # BertModel adds the most negative float32 to padding positions' scores; a large finite value
        # gives the same softmax (exactly 0 weight) without overflowing to -inf.
        mask_bias = ((1 - attention_mask.astype(np.float32)) * np.float32(-1e9))[:, None, None, :]
        heads = config.num_attention_heads
        head_size = config.hidden_size // heads
        scale = np.float32(1 / math.sqrt(head_size))
        for layer in self.layers:
            qkv = hidden @ layer.qkv_weight + layer.qkv_bias
            # (batch, length, 3, heads, head_size) -> 3 x (batch, heads, length, head_size)
            q, k, v = np.ascontiguousarray(qkv.reshape(batch, length, 3, heads, head_size).transpose(2, 0, 3, 1, 4))
            scores = np.matmul(q, k.transpose(0, 1, 3, 2)) * scale + mask_bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = np.matmul(probs, v).transpose(0, 2, 1, 3).reshape(batch * length, config.hidden_size)
            attended = context @ layer.attention_out_weight + layer.attention_out_bias
            hidden = _layer_norm(attended + hidden, layer.attention_norm_weight, layer.attention_norm_bias, eps)
            intermediate = gelu(hidden @ layer.intermediate_weight + layer.intermediate_bias)
            output = intermediate @ layer.output_weight + layer.output_bias
            hidden = _layer_norm(output + hidden, layer.output_norm_weight, layer.output_norm_bias, eps)
        result: FloatArray = hidden.reshape(batch, length, config.hidden_size)
        return result
