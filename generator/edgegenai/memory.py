"""How much memory a served model needs, and the service's limits from it.

llama.cpp's server holds, once the model is loaded: the weights (the GGUF
file, memory-mapped), the KV cache for the whole context (K and V for each
layer, f16), a compute buffer sized for one micro-batch of 512 tokens
(logits over the vocabulary plus the feed-forward activations), and its
own code and libraries.  From the model's shape (`Shape`, catalog data)
and the server settings this gives an estimate; the unit's `MemoryHigh=`
is the estimate plus MARGIN, `MemoryMax=` the estimate plus HARD_MARGIN,
so a leak or a runaway context is throttled, then stopped, before it takes
the device down.

Measured with llama.cpp's own server (Debian's build) on a model of
SmolLM2-360M's shape (Q4_K_M, 270 MB): 560 MiB resident after load and
563 MiB after a 256-token completion at a 4096 context; the estimate is
566 MiB; at 8192 the KV cache adds the 160 MiB this predicts.

A model without a shape (a spec's own, unless it gives one) gets no
limits: an estimate without its dimensions would be a guess.  The weights
alone still have to fit the board.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MIB = 1024 * 1024
# llama.cpp's default micro-batch (n_ubatch) and its f16 KV cache.
UBATCH = 512
KV_BYTES = 2
# The server's code, libraries and bookkeeping (21 MiB measured), rounded up.
RUNTIME = 32 * MIB
MARGIN = 0.25
HARD_MARGIN = 0.50
# What a board keeps for the system besides the inference service.
SYSTEM_RESERVE = 256 * MIB


@dataclass(frozen=True)
class Estimate:
    weights: int
    kv_cache: Optional[int]
    compute: Optional[int]

    @property
    def total(self) -> Optional[int]:
        if self.kv_cache is None or self.compute is None:
            return None
        return self.weights + self.kv_cache + self.compute + RUNTIME

    @property
    def high_mib(self) -> Optional[int]:
        return None if self.total is None else -(-int(self.total * (1 + MARGIN)) // MIB)

    @property
    def max_mib(self) -> Optional[int]:
        return None if self.total is None else -(-int(self.total * (1 + HARD_MARGIN)) // MIB)

    def describe(self) -> str:
        if self.total is None:
            return f"{self.weights // MIB} MiB of weights (no shape: KV cache unknown)"
        return (f"{self.total // MIB} MiB: weights {self.weights // MIB}, KV cache "
                f"{self.kv_cache // MIB}, compute {self.compute // MIB}, runtime {RUNTIME // MIB}")


def estimate(model, context_size: int) -> Estimate:
    """Memory of `model` served with a context of `context_size` tokens."""
    shape = model.shape
    if shape is None:
        return Estimate(model.size, None, None)
    kv = 2 * shape.layers * context_size * shape.kv_heads * shape.head_dim * KV_BYTES
    compute = UBATCH * 4 * (shape.vocab + 4 * shape.feed_forward)
    return Estimate(model.size, kv, compute)


# Bits per weight a quantised small model carries beyond its type's own: the
# k-quant mixes keep the token embedding and output tensors, a large share of
# a small model, at 6 to 8 bits.  SmolLM2-135M (F16, 270.9 MB) is published
# at 105.5 MB as Q4_K_M and 144.8 MB as Q8_0; this bound gives 116.7 and 177.
QUANT_EXTRA_BPW = 2.0


def quantized_size(model, quant, quantizer) -> int:
    """Bytes of `model` quantised to `quant` (None: as published), an upper estimate.

    The build writes the real size into the model's manifest; the spec's
    memory check has to decide before the file exists.
    """
    if quant is None:
        return model.size
    source_bpw, bpw = quantizer.types[model.quantization], quantizer.types[quant]
    ratio = bpw / source_bpw if bpw >= source_bpw else min(1.0, (bpw + QUANT_EXTRA_BPW) / source_bpw)
    return int(model.size * ratio)


def fits(est: Estimate, memory_mb: int) -> bool:
    """Whether the service, limits included, leaves the board its system reserve."""
    need = est.high_mib * MIB if est.high_mib is not None else est.weights
    return need + SYSTEM_RESERVE <= memory_mb * MIB
