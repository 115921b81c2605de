"""A tiny llama-architecture GGUF model that the real llama-server loads and runs.

    python3 tests/standin/tinymodel.py OUT.gguf

Random weights (a fixed seed: the same bytes every time), two layers, a
64-wide residual stream, and a real SentencePiece-style vocabulary of its
own: control tokens, the 256 byte-fallback tokens `<0x00>`..`<0xFF>`, and
English word pieces, with scores, so llama.cpp's SPM tokenizer encodes any
prompt and decodes what is generated.  A ChatML template makes
`/v1/chat/completions` work.

The weights are random but not shapeless: every token embedding carries a
large constant in dimension 0, which survives the two layers and the final
norm, and the output rows of the control tokens, the end-of-text tokens and
the non-ASCII bytes are strongly negative in that dimension.  So the model
never ends a reply early and never emits a broken UTF-8 sequence: a
completion of N tokens is N printable pieces, which makes both the boot
check ("a completion returns tokens") and tokens/s figures stable.
Speed does not depend on the weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ARCH = "llama"
N_EMBD, N_HEAD, N_FF, N_LAYER, N_CTX = 64, 4, 128, 2, 4096
SEED = 20261202
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CONTROL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
UNK, BOS, EOS, IM_END = 0, 1, 2, 4
WORDS = """
the of and to in is was for on that with as by at from it his an were are which
this be or has had not but also first one their its new after who they have her
she he two been other when there all during into school time may years more most
only over city some world would where later up such used many can state about
national out known university united then made three any being under both hello
world model device board edge server answer question small fast test boot image
linux yocto layer build run token say please thank you yes no good day night
system service health check memory file data word text read write start stop
red green blue light sound water fire earth air tree river mountain sea sky
""".split()
SYMBOLS = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?;:'\"-()")


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, their scores and types, SentencePiece style (▁ marks a word start)."""
    from gguf import TokenType

    tokens, scores, types = [], [], []

    def add(text: str, score: float, kind) -> None:
        tokens.append(text)
        scores.append(score)
        types.append(int(kind))

    for i, text in enumerate(CONTROL):
        add(text, 0.0, TokenType.UNKNOWN if i == UNK else TokenType.CONTROL)
    for byte in range(256):
        add(f"<0x{byte:02X}>", 0.0, TokenType.BYTE)
    pieces = ["▁"] + [f"▁{w}" for w in WORDS] + [f"▁{s}" for s in SYMBOLS] + SYMBOLS
    seen = set()
    for rank, piece in enumerate(pieces):
        if piece not in seen:
            seen.add(piece)
            # Longer pieces win merges: score by length, then by list order.
            add(piece, float(len(piece)) * 10.0 - rank * 0.001, TokenType.NORMAL)
    return tokens, scores, types


def banned(tokens: list[str], types: list[int]) -> np.ndarray:
    """Tokens the model must never produce: control, end of text, bytes >= 0x80."""
    from gguf import TokenType

    out = np.zeros(len(tokens), dtype=bool)
    for i, (text, kind) in enumerate(zip(tokens, types)):
        if kind in (TokenType.CONTROL, TokenType.UNKNOWN):
            out[i] = True
        elif kind == TokenType.BYTE and (int(text[3:5], 16) >= 0x80 or int(text[3:5], 16) < 0x20):
            out[i] = True
    return out


def _llama_writer(path: Path, name: str, context: int, file_type, *, layers: int, n_embd: int,
                  feed_forward: int, heads: int, kv_heads: int, head_dim: int, vocabulary):
    """A GGUF writer for a llama-architecture model with its hyperparameters and vocabulary set."""
    import gguf

    tokens, scores, types = vocabulary
    w = gguf.GGUFWriter(str(path), ARCH)
    w.add_name(name)
    w.add_context_length(context)
    w.add_embedding_length(n_embd)
    w.add_block_count(layers)
    w.add_feed_forward_length(feed_forward)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(file_type)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    return w


def write(path: Path) -> Path:
    """Write the model to `path` (deterministic bytes) and return it."""
    import gguf

    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    rng = np.random.RandomState(SEED)

    def rand(*shape, scale=0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    embd = rand(n_vocab, N_EMBD, scale=0.1)
    embd[:, 0] = 4.0
    output = rand(n_vocab, N_EMBD, scale=1.0)
    output[:, 0] = 0.0
    output[banned(tokens, types), 0] = -100.0

    writer = _llama_writer(path, "edgegenai-tiny-random", N_CTX, gguf.LlamaFileType.ALL_F32,
                           layers=N_LAYER, n_embd=N_EMBD, feed_forward=N_FF, heads=N_HEAD,
                           kv_heads=N_HEAD, head_dim=N_EMBD // N_HEAD, vocabulary=(tokens, scores, types))
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOS)
    writer.add_eot_token_id(IM_END)
    writer.add_unk_token_id(UNK)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    writer.add_tensor("token_embd.weight", embd)
    for layer in range(N_LAYER):
        p = f"blk.{layer}"
        writer.add_tensor(f"{p}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{p}.{name}.weight", rand(N_EMBD, N_EMBD))
        writer.add_tensor(f"{p}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{p}.ffn_gate.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"{p}.ffn_up.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"{p}.ffn_down.weight", rand(N_EMBD, N_FF))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_shaped(path: Path, shape, seed: int = 1, *, embd_scale: float = 0.1, scale: float = 0.02,
                  untied: bool = False) -> Path:
    """An F16 llama-architecture GGUF of `shape` (a catalog Shape: layers, heads, kv_heads,
    head_dim, vocab, feed_forward) with random weights and this module's tokenizer.

    For what depends on a model's size and not its weights: memory, speed, quantisation.
    The token embedding is drawn with `embd_scale`, the layers with `scale`;
    `untied` gives the model an output matrix of its own (SmolLM2 ties it to
    the embedding), which makes greedy decoding of random weights vary.
    """
    import gguf

    tokens, scores, types = vocabulary()
    for i in range(shape.vocab - len(tokens)):
        tokens.append(f"▁tok{i}")
        scores.append(-1000.0 - i * 1e-3)
        types.append(int(gguf.TokenType.NORMAL))
    rng = np.random.RandomState(seed)
    n_embd, kv = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim

    def rand(*dims, scale=scale):
        return (rng.standard_normal(dims).astype(np.float32) * scale).astype(np.float16)

    w = _llama_writer(path, "shape-random", 32768, gguf.LlamaFileType.MOSTLY_F16,
                      layers=shape.layers, n_embd=n_embd, feed_forward=shape.feed_forward,
                      heads=shape.heads, kv_heads=shape.kv_heads, head_dim=shape.head_dim,
                      vocabulary=(tokens, scores, types))
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    w.add_unk_token_id(UNK)
    w.add_chat_template(CHAT_TEMPLATE)
    w.add_tensor("token_embd.weight", rand(shape.vocab, n_embd, scale=embd_scale))
    for layer in range(shape.layers):
        p = f"blk.{layer}"
        w.add_tensor(f"{p}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"{p}.attn_q.weight", rand(n_embd, n_embd))
        w.add_tensor(f"{p}.attn_k.weight", rand(kv, n_embd))
        w.add_tensor(f"{p}.attn_v.weight", rand(kv, n_embd))
        w.add_tensor(f"{p}.attn_output.weight", rand(n_embd, n_embd))
        w.add_tensor(f"{p}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"{p}.ffn_gate.weight", rand(shape.feed_forward, n_embd))
        w.add_tensor(f"{p}.ffn_up.weight", rand(shape.feed_forward, n_embd))
        w.add_tensor(f"{p}.ffn_down.weight", rand(n_embd, shape.feed_forward))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    if untied:
        w.add_tensor("output.weight", rand(shape.vocab, n_embd))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    print(write(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
