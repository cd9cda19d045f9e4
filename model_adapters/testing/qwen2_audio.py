"""A tiny random Qwen2-Audio checkpoint, built locally (no hub): for tests and benchmarks.
(`shaped_config` also builds the transformers model of any shape for `qa-eval bench`.)

`make_tiny_qwen2_audio(dir)` writes a directory that `Qwen2AudioForConditionalGeneration` and
`Qwen2AudioProcessor.from_pretrained` load like the real `Qwen/Qwen2-Audio-7B`: the same
architecture and feature extractor (Whisper recipe, 128 mel bins, 30 s window, 1500 encoder
positions), tiny widths, random weights from a fixed seed. The tokenizer is a byte-level BPE
with Qwen2's pre-tokenizer, trained here on a small fixed corpus, followed by the special
tokens the Qwen2-Audio prompts and processor use. The weights are saved under the hub
checkpoints' names (`language_model.model.layers...`; some transformers versions write
`language_model.model.model...`, which vLLM rejects). `for_vllm=True` gives every attention head
32 dimensions (vLLM's CPU attention needs multiples of 32). Building takes about a second.
"""

from __future__ import annotations

import json
from pathlib import Path

from qa_eval.audio import SAMPLE_RATE

SEED = 0
BPE_VOCAB_SIZE = 600  # byte alphabet (256) + learned merges
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|audio_bos|>",
    "<|AUDIO|>",
    "<|audio_eos|>",
)
_CORPUS = (
    "Detect the language and recognize the speech:",
    "Translate the speech into German, Chinese, Spanish, French or Italian.",
    "Classify the audio scene. Recognize the emotion with keywords in English.",
    "What does the person say? Answer the question about the sound.",
    "mister quilter is the apostle of the middle classes and we are glad to welcome his gospel",
    "the quick brown fox jumps over the lazy dog while the children read books in the garden",
    "generate the caption in english of this audio clip of rain, birds and distant traffic",
    "system user assistant You are a helpful assistant.",
)


def build_tokenizer():
    """A Qwen2TokenizerFast with a small trained BPE vocabulary and the audio special tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(_CORPUS) * 4, trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    tokenizer = Qwen2TokenizerFast(
        vocab=state["vocab"],
        merges=merges,
        unk_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
        padding_side="left",
    )
    return tokenizer


def shaped_config(
    vocab_size: int,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int | None = 2,
    intermediate: int = 64,
    enc_d_model: int = 32,
    enc_layers: int = 2,
    enc_heads: int = 2,
    enc_ffn: int | None = None,
    num_mel_bins: int = 128,
    eos_id: int = 0,
    audio_token_id: int = 0,
):
    """A Qwen2AudioConfig at any shape (the real model's structure: Whisper-style encoder with
    1500 positions + projector + Qwen2 decoder). kv_heads None = as many as heads (MHA);
    enc_ffn None = 2 * enc_d_model (the tiny builder's ratio)."""
    from transformers import Qwen2AudioConfig

    return Qwen2AudioConfig(
        audio_config={
            "model_type": "qwen2_audio_encoder",
            "num_mel_bins": num_mel_bins,
            "encoder_layers": enc_layers,
            "encoder_attention_heads": enc_heads,
            "encoder_ffn_dim": enc_ffn if enc_ffn is not None else 2 * enc_d_model,
            "d_model": enc_d_model,
            "max_source_positions": 1500,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": vocab_size,
            "hidden_size": hidden,
            "intermediate_size": intermediate,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "num_key_value_heads": kv_heads if kv_heads is not None else heads,
            "max_position_embeddings": 2048,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "bos_token_id": eos_id,
            "eos_token_id": eos_id,
            "pad_token_id": eos_id,
        },
        audio_token_index=audio_token_id,
    )


# for_vllm: 32-dimensional attention heads in the language model (hidden 64, 2 heads, 1 KV head)
VLLM_TEXT_SHAPE = {"hidden": 64, "heads": 2, "kv_heads": 1, "intermediate": 128}
# `qa-eval bench --model qwen2-audio --shape small`: a CPU-sized model with the real head width
# (128), LLM 4 layers of hidden 512, encoder 4 layers of d_model 256 (heads of 64)
SMALL_SHAPE = {"hidden": 512, "layers": 4, "heads": 4, "kv_heads": 4, "intermediate": 1408,
               "enc_d_model": 256, "enc_layers": 4, "enc_heads": 4, "enc_ffn": 1024}


def build_config(tokenizer, shape: dict | None = None):
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return shaped_config(len(tokenizer), eos_id=eos, audio_token_id=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
                         **(shape or {}))


def save_hub_layout(model, out: Path) -> None:
    """save_pretrained, with the weights under the hub checkpoints' names."""
    from safetensors.torch import load_file, save_file

    model.save_pretrained(out)
    path = out / "model.safetensors"
    weights = load_file(path)
    save_file({k.replace("language_model.model.model.", "language_model.model."): v for k, v in weights.items()},
              path, metadata={"format": "pt"})


def make_tiny_qwen2_audio(out_dir: str | Path, for_vllm: bool = False, shape: dict | None = None) -> Path:
    """Write a tiny random Qwen2-Audio checkpoint (weights, config, processor) to out_dir
    (`for_vllm`: the shape vLLM's CPU build runs, see the module docstring; `shape`: any other
    `shaped_config` widths, e.g. SMALL_SHAPE)."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = build_config(tokenizer, shape or (VLLM_TEXT_SHAPE if for_vllm else None))
    torch.manual_seed(SEED)
    model = Qwen2AudioForConditionalGeneration(config).eval()
    eos = config.text_config.eos_token_id
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    # as the released checkpoints: generation ends at <|im_end|> or <|endoftext|>
    model.generation_config = GenerationConfig(bos_token_id=eos, eos_token_id=[im_end, eos], pad_token_id=eos)
    save_hub_layout(model, out)
    features = WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE, return_attention_mask=True)
    Qwen2AudioProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(out)
    return out
