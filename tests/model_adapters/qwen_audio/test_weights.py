"""Checkpoint loading: key mapping, dtype/device, sharding, and the errors that name tensors."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from model_adapters.qwen_audio.config import QwenAudioConfig
from model_adapters.testing.qwen_audio import tiny_config_dict, write_random_checkpoint
from model_adapters.qwen_audio.weights import (
    LoadReport,
    build_meta_model,
    expected_tensors,
    load_checkpoint,
    load_model,
)
from qa_eval.errors import AdapterError, ConfigError

from .conftest import FIXTURE


def test_fixture_keys_equal_model_keys():
    model = build_meta_model(QwenAudioConfig.from_file(FIXTURE))
    with safe_open(str(FIXTURE / "model.safetensors"), "pt") as f:
        stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert stored == {k: tuple(v) for k, v in expected_tensors(model).items()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_load_fixture_dtype_exact(dtype):
    model = load_model(FIXTURE, "cpu", dtype)
    stored = load_file(str(FIXTURE / "model.safetensors"))
    for k, v in model.state_dict().items():
        assert v.dtype == dtype and v.device.type == "cpu", k
        assert not v.is_meta
        assert torch.equal(v, stored[k].to(dtype)), k  # fp16 -> target dtype, value-exact
    assert not any(p.requires_grad for p in model.parameters())


@pytest.fixture()
def ckpt(tmp_path):
    d = tmp_path / "ckpt"
    shutil.copytree(FIXTURE, d, ignore=shutil.ignore_patterns("tensors", "audio", "*.jsonl"))
    return d


def _rewrite(d, edit):
    tensors = load_file(str(d / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})


def test_missing_tensor_named(ckpt):
    _rewrite(ckpt, lambda t: t.pop("transformer.h.1.mlp.w2.weight"))
    with pytest.raises(AdapterError, match=r"missing.*transformer\.h\.1\.mlp\.w2\.weight"):
        load_model(ckpt)


def test_shape_mismatch_named(ckpt):
    _rewrite(ckpt, lambda t: t.__setitem__("transformer.ln_f.weight", torch.ones(33, dtype=torch.float16)))
    with pytest.raises(AdapterError, match=r"transformer\.ln_f\.weight.*\(33,\)"):
        load_model(ckpt)


def test_unexpected_key_named_and_ignorable_keys(ckpt):
    _rewrite(ckpt, lambda t: t.__setitem__("transformer.h.0.attn.rotary_emb.inv_freq", torch.ones(4)))
    load_model(ckpt)  # non-persistent buffers some exports carry are ignored
    _rewrite(ckpt, lambda t: t.__setitem__("transformer.foo.weight", torch.ones(2)))
    with pytest.raises(AdapterError, match=r"unexpected tensor 'transformer\.foo\.weight'"):
        load_model(ckpt)


def test_pickle_refused_unless_opted_in(ckpt):
    tensors = load_file(str(ckpt / "model.safetensors"))
    (ckpt / "model.safetensors").unlink()
    torch.save(tensors, ckpt / "pytorch_model.bin")
    with pytest.raises(AdapterError, match="pickle"):
        load_model(ckpt)
    model = load_model(ckpt, allow_pickle=True)
    assert torch.equal(model.lm_head.weight, tensors["lm_head.weight"].float())


def test_sharded_checkpoint_equals_single(tmp_path):
    cfg = tiny_config_dict(hidden=16, heads=2, enc_state=16, enc_heads=2)
    single = write_random_checkpoint(tmp_path / "one", cfg, FIXTURE, seed=3, dtype="float16")
    sharded = write_random_checkpoint(tmp_path / "many", cfg, FIXTURE, seed=3, dtype="float16", max_shard_bytes=2 << 20)
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert not (sharded / "model.safetensors").exists()
    a, b = load_model(single, dtype="float32"), load_model(sharded, dtype="float32")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    (sharded / index["weight_map"]["lm_head.weight"]).unlink()
    with pytest.raises(AdapterError, match="missing"):
        load_model(sharded)


def test_config_errors(tmp_path):
    good = json.loads((FIXTURE / "config.json").read_text())
    for bad, msg in [
        ({**good, "kv_channels": 7}, "kv_channels"),
        ({**good, "audio": {**good["audio"], "output_dim": 16}}, "output_dim"),
        ({**good, "hidden_size": "32"}, "hidden_size"),
        ({k: v for k, v in good.items() if k != "audio"}, "audio"),
        ({**good, "tie_word_embeddings": True}, "tie_word_embeddings"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            QwenAudioConfig.from_dict(bad)
    with pytest.raises(ConfigError, match="not found"):
        QwenAudioConfig.from_file(tmp_path)
    cfg = QwenAudioConfig.from_file(FIXTURE)
    assert (cfg.head_dim, cfg.rotary_dim, cfg.mlp_width, cfg.audio.audio_end_id) == (8, 8, 64, 155164)


# -- tensors the reference recomputes (the real Qwen/Qwen-Audio shards may store them) -----------


def _reference_buffers(cfg: QwenAudioConfig) -> dict[str, torch.Tensor]:
    """The non-persistent buffers of QwenLM/Qwen-Audio modeling_qwen.py with the values it builds:
    RotaryEmbedding.inv_freq (transformer.rotary_emb, plus the per-layer name of older Qwen code),
    QWenAttention.logn_tensor (log_seq_length(i) beyond seq_length, else 1) and masked_bias (-1e4),
    and the causal-mask `attn.bias` of older exports."""
    dim = cfg.rotary_dim
    inv_freq = 1.0 / (cfg.rotary_emb_base ** (torch.arange(0, dim, 2).float() / dim))
    i = torch.arange(1, 32768, dtype=torch.float64)
    logn = torch.where(i > cfg.seq_length, i.log() / math.log(cfg.seq_length), 1.0).float()[None, :, None, None]
    out = {"transformer.rotary_emb.inv_freq": inv_freq, "transformer.h.1.attn.rotary_emb.inv_freq": inv_freq.clone(),
           "transformer.h.0.attn.bias": torch.ones(1, 1, 16, 16, dtype=torch.bool).tril()}
    for layer in range(cfg.num_hidden_layers):
        out[f"transformer.h.{layer}.attn.logn_tensor"] = logn.clone()
        out[f"transformer.h.{layer}.attn.masked_bias"] = torch.tensor(-1e4)
    return out


def _add_to_checkpoint(d, extra: dict[str, torch.Tensor]) -> None:
    """Store `extra` in the checkpoint's last shard (and its index, when sharded)."""
    index_path = d / "model.safetensors.index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else None
    shard = sorted(set(index["weight_map"].values()))[-1] if index else "model.safetensors"
    tensors = load_file(str(d / shard))
    tensors.update(extra)
    save_file(tensors, str(d / shard), metadata={"format": "pt"})
    if index:
        index["weight_map"].update({k: shard for k in extra})
        index_path.write_text(json.dumps(index))


@pytest.mark.parametrize("max_shard_bytes", [4 << 30, 2 << 20], ids=["single", "sharded"])
def test_recomputed_buffers_are_skipped_with_a_note(tmp_path, caplog, max_shard_bytes):
    cfg_dict = tiny_config_dict(hidden=16, heads=2, enc_state=16, enc_heads=2)
    ckpt = write_random_checkpoint(tmp_path / "ckpt", cfg_dict, FIXTURE, seed=5, dtype="float16",
                                   max_shard_bytes=max_shard_bytes)
    plain, report = load_checkpoint(ckpt)
    assert report == LoadReport() and report.note() is None
    extra = _reference_buffers(QwenAudioConfig.from_dict(cfg_dict))
    _add_to_checkpoint(ckpt, extra)
    with caplog.at_level(logging.INFO, logger="model_adapters.qwen_audio.weights"):
        model, report = load_checkpoint(ckpt)
    assert report.skipped == tuple(sorted(extra))
    assert report.summary() == [
        "transformer.h.N.attn.bias", "transformer.h.N.attn.logn_tensor (x2)", "transformer.h.N.attn.masked_bias (x2)",
        "transformer.h.N.attn.rotary_emb.inv_freq", "transformer.rotary_emb.inv_freq",
    ]
    note = report.note()
    assert note and "\n" not in note and "skipped 7 " in note and "transformer.rotary_emb.inv_freq" in note
    assert [r.getMessage() for r in caplog.records] == [note]
    expected = plain.state_dict()
    assert model.state_dict().keys() == expected.keys()
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
    assert torch.equal(load_model(ckpt).lm_head.weight, plain.lm_head.weight)  # load_model: same model, no report


@pytest.mark.parametrize("key", [
    "transformer.h.0.attn.logn_tensor_v2",  # not a buffer the reference has
    "transformer.h.2.attn.logn_tensor",  # a layer this 2-layer model does not have
    "transformer.audio.blocks.0.attn.rotary_emb.inv_freq",  # the encoder has no rotary embedding
    "rotary_emb.inv_freq",  # outside transformer.*
    "transformer.h.0.attn.c_attn.bias_scale",
])
def test_other_unknown_tensors_still_fail_naming_them(ckpt, key):
    _add_to_checkpoint(ckpt, {**_reference_buffers(QwenAudioConfig.from_file(ckpt)), key: torch.ones(4)})
    with pytest.raises(AdapterError, match=f"unexpected tensor '{re.escape(key)}'"):
        load_checkpoint(ckpt)


def test_a_stored_buffer_the_model_needs_is_still_required(ckpt):
    """positional_embedding is a persistent buffer (the reference stores and reads it)."""
    _add_to_checkpoint(ckpt, _reference_buffers(QwenAudioConfig.from_file(ckpt)))
    _rewrite(ckpt, lambda t: t.pop("transformer.audio.positional_embedding"))
    with pytest.raises(AdapterError, match=r"missing.*transformer\.audio\.positional_embedding"):
        load_checkpoint(ckpt)


def test_the_adapter_says_what_it_skipped(tmp_path, capsys):
    """Through the adapter: one note on stderr, and the skipped tensors in metrics.json's model block."""
    from model_adapters.qwen_audio.adapter import QwenAudioAdapter
    from qa_eval.adapter import ModelOptions

    cfg_dict = tiny_config_dict(hidden=16, heads=2, enc_state=16, enc_heads=2)
    ckpt = write_random_checkpoint(tmp_path / "ckpt", cfg_dict, FIXTURE, seed=5, dtype="float16")
    _add_to_checkpoint(ckpt, {"transformer.rotary_emb.inv_freq": torch.ones(8)})
    adapter = QwenAudioAdapter(ModelOptions(str(ckpt), "cpu", "float32"))
    adapter.load()
    assert "qa-eval: note: checkpoint: skipped 1 stored tensor(s)" in capsys.readouterr().err
    assert adapter.describe()["skipped_checkpoint_tensors"] == ["transformer.rotary_emb.inv_freq"]
