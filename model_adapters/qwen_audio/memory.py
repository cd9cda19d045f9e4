"""How much memory one batch row of the engine needs, for `--batch-size auto`.

The estimate follows the tensors the engine allocates for a row whose prompt holds T tokens
(25 audio tokens per second of audio, plus the text) and N new tokens:

  * KV cache: 2 x layers x (T + N) x hidden, in the weight dtype; x 1.5 because dropping
    finished rows (StaticDecoder.keep) copies the survivors while the old cache is still alive;
  * prefill activations of one layer (layers run one after another): hidden states, q|k|v,
    float32 RoPE / RMSNorm copies, the two MLP projections and their product, per token;
  * the embedded prompt (three [T, hidden] copies while audio features are spliced in);
  * the additive attention mask [T, T] (and its boolean source) of the prefill;
  * last-position float32 logits (and the argmax's working copy);
  * the 30-s log-mel of each audio (windowed frames, STFT, magnitudes, mel) on the device; this phase ends
    before the language model's begins, so a row costs the larger of the two.

The encoder runs at most `ENCODER_CHUNK` audios at a time whatever the batch, so its
activations are a fixed reserve, not a per-row cost. Checked against the measured peak on
the CPU (tests/model_adapters/qwen_audio/test_memory.py): the estimate is above it, by
1.6-2.7x on the layouts measured.
"""

from __future__ import annotations

from qa_eval.batching import MemoryBudget

from .config import QwenAudioConfig
from .features import N_FFT, N_FRAMES, N_MELS

AUDIO_TOKENS_PER_S = 25  # 16 kHz -> 100 mel frames/s -> conv stride 2 -> avg-pool 2
TEXT_TOKENS = 64  # room for the task tags / question around the audio span
ENCODER_CHUNK = 8  # model.AudioEncoder.encode's max_batch
SAFETY_FRACTION = 0.9  # leave 10 % of the free memory to the allocator's fragmentation
SAFETY_BYTES = 512 * 2**20


def row_bytes(cfg: QwenAudioConfig, elt: int, new_tokens: int, audio_s: float) -> int:
    """Bytes one row costs when padded to `audio_s` seconds of audio (see the module doc): the
    larger of its two phases, features (log-mel) then language model (cache, prefill, logits);
    the first phase's tensors are freed before the second allocates."""
    h, mlp = cfg.hidden_size, cfg.mlp_width
    t = int(AUDIO_TOKENS_PER_S * min(audio_s, 30.0)) + TEXT_TOKENS
    kv = 2 * cfg.num_hidden_layers * (t + new_tokens) * h * elt * 3 // 2
    prefill = t * ((6 * h + 3 * mlp) * elt + 4 * h * 4)
    embed = 3 * t * h * elt
    mask = t * t * (2 * elt + 1)
    logits = 3 * cfg.vocab_size * 4
    frames = N_FRAMES + 1
    mel = frames * N_FFT * 4 + (N_FFT // 2 + 1) * frames * (8 + 4) + 2 * N_MELS * N_FRAMES * 4
    return max(mel, kv + prefill + embed + mask + logits)


def encoder_reserve(cfg: QwenAudioConfig, elt: int) -> int:
    """Peak activations of one encoder chunk of 30-s audios (fixed, whatever the batch;
    attention runs in SDPA's fused kernels, which never hold the [frames, frames] scores)."""
    a = cfg.audio
    per_frame = (2 * N_MELS + 10 * a.n_state) * elt + 2 * a.n_state * 4
    return ENCODER_CHUNK * a.n_ctx * per_frame


def memory_budget(cfg: QwenAudioConfig, elt: int, new_tokens: int, free_bytes: int) -> MemoryBudget:
    """The batch budget on a device with `free_bytes` free after the weights are loaded."""
    usable = int(free_bytes * SAFETY_FRACTION) - SAFETY_BYTES - encoder_reserve(cfg, elt)
    return MemoryBudget(max(usable, 0), lambda s: row_bytes(cfg, elt, new_tokens, s))
