"""The benchmarked implementations: qa-eval's engine and transformers' Qwen2-Audio generate.

* engine: the Qwen-Audio model built on the meta device and materialised directly in the target
  dtype; each batch runs ``QwenAudioPipeline.run`` (log-mel, encoder on true lengths,
  static-KV-cache greedy decode); `compile_step` adds torch.compile of the per-token step.
* hf: ``Qwen2AudioForConditionalGeneration`` of the same shape (LLM: vocabulary 155,947, hidden,
  layers, heads (MHA, as Qwen-Audio), MLP width; encoder: d_model, layers, heads, FFN 4 x
  d_model, 1500 positions), ``WhisperFeatureExtractor`` with 128 mel bins as Qwen2-Audio uses
  (Qwen-Audio's engine uses 80 bins; conv1's input width is the only parameter difference), audio
  padded to 30 s as the processor does, greedy ``generate`` with left padding.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qa_eval.audio import SAMPLE_RATE

from .workload import PROMPT

# Qwen2-Audio's ids (Qwen2 vocabulary): <|endoftext|>, <|AUDIO|>, <|audio_bos|>, <|audio_eos|>
HF_EOS, HF_AUDIO, HF_AUDIO_BOS, HF_AUDIO_EOS = 151643, 151646, 151647, 151648


def build_engine(cfg_dict: dict, device: str, dtype: str, seed: int = 0):
    """QwenAudioPipeline with random weights materialised directly in `dtype` on `device`."""
    from model_adapters.qwen_audio.config import QwenAudioConfig
    from model_adapters.qwen_audio.features import load_mel_filters
    from model_adapters.qwen_audio.pipeline import QwenAudioPipeline
    from model_adapters.qwen_audio.tokenizer import QwenAudioTokenizer
    from model_adapters.qwen_audio.weights import build_meta_model
    from model_adapters.testing.qwen_audio import ASSETS, materialize_random

    cfg = QwenAudioConfig.from_dict(cfg_dict, "bench config")
    model = materialize_random(build_meta_model(cfg), device, dtype, seed)
    return QwenAudioPipeline(model, QwenAudioTokenizer.from_dir(ASSETS), load_mel_filters(ASSETS))


def run_engine(pipe, clips: Sequence[np.ndarray], batches: Sequence[Sequence[int]], new_tokens: int,
               use_cache: bool = True) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for idx in batches:
        prepared = [pipe.prepare(PROMPT, [clips[i]]) for i in idx]
        res = pipe.run(prepared, new_tokens, new_tokens, use_cache=use_cache)
        for i, r in zip(idx, res):
            out[i] = r.raw_ids
    return out


def build_hf(cfg_dict: dict, device: str, dtype: str, seed: int = 0):
    """Qwen2AudioForConditionalGeneration at the same shape, random weights in `dtype` on `device`."""
    import torch
    from transformers import GenerationConfig, Qwen2AudioForConditionalGeneration

    from model_adapters.testing.qwen2_audio import shaped_config
    from model_adapters.qwen_audio.weights import resolve_dtype

    a = cfg_dict["audio"]
    heads = cfg_dict["num_attention_heads"]
    config = shaped_config(
        vocab_size=cfg_dict["vocab_size"], hidden=cfg_dict["hidden_size"], layers=cfg_dict["num_hidden_layers"],
        heads=heads, kv_heads=heads, intermediate=cfg_dict["intermediate_size"] // 2,
        enc_d_model=a["n_state"], enc_layers=a["n_layer"], enc_heads=a["n_head"], enc_ffn=4 * a["n_state"],
        num_mel_bins=128, eos_id=HF_EOS, audio_token_id=HF_AUDIO,
    )
    config.text_config.head_dim = cfg_dict["kv_channels"]
    torch.manual_seed(seed)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(resolve_dtype(dtype))  # built directly in `dtype`: no float32 copy
    try:
        with torch.device(device):
            model = Qwen2AudioForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(default_dtype)
    model.eval().requires_grad_(False)
    model.generation_config = GenerationConfig(bos_token_id=HF_EOS, eos_token_id=HF_EOS, pad_token_id=HF_EOS)
    return model


def hf_feature_extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE, return_attention_mask=True)


def run_hf(model, fe, clips: Sequence[np.ndarray], batches: Sequence[Sequence[int]], new_tokens: int,
           tail_len: int, device: str) -> dict[int, list[int]]:
    """transformers generate per batch: 30 s-padded 128-bin features, prompt
    <|audio_bos|> <|AUDIO|> x n <|audio_eos|> + tail_len text ids, left padded."""
    import torch

    tail = [40, 1079, 264, 3403, 11, 13, 315, 279][:tail_len] + [13] * max(0, tail_len - 8)
    out: dict[int, list[int]] = {}
    with torch.inference_mode():
        for idx in batches:
            feats = fe([clips[i] for i in idx], sampling_rate=SAMPLE_RATE, return_attention_mask=True,
                       padding="max_length", return_tensors="pt")
            mel_lens = feats["attention_mask"].sum(-1).tolist()
            prompts = []
            for n_mel in mel_lens:
                n_tok = ((int(n_mel) - 1) // 2 + 1 - 2) // 2 + 1
                prompts.append([HF_AUDIO_BOS] + [HF_AUDIO] * n_tok + [HF_AUDIO_EOS] + tail)
            t = max(len(p) for p in prompts)
            ids = torch.full((len(prompts), t), HF_EOS, dtype=torch.long)
            mask = torch.zeros((len(prompts), t), dtype=torch.long)
            for r, p in enumerate(prompts):
                ids[r, t - len(p):] = torch.tensor(p)
                mask[r, t - len(p):] = 1
            gen = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device),
                input_features=feats["input_features"].to(device=device, dtype=model.dtype),
                feature_attention_mask=feats["attention_mask"].to(device),
                max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, num_beams=1,
            )
            for r, i in enumerate(idx):
                out[i] = gen[r, t:].tolist()
    return out
