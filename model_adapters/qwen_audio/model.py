"""Qwen-Audio network: Whisper-style audio encoder + Qwen-7B style decoder-only LLM.

Module attribute names equal the original checkpoint key names, so ``state_dict()`` keys are
exactly ``transformer.wte.weight``, ``transformer.h.0.attn.c_attn.weight``, ...,
``transformer.audio.blocks.0.attn.key.weight``, ``lm_head.weight``.

Numerics (see the fixture README's quirks): RMSNorm/LayerNorm, RoPE and the final logits are
computed in float32 whatever the weight dtype; attention uses torch SDPA (softmax inside it).
Shapes use B = batch rows, T = query length, S = key length (cache size), H = hidden size,
nh = heads, hd = head dim, N = audios, F = mel frames, D = encoder width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from qa_eval.errors import AdapterError

from .config import AudioEncoderConfig, QwenAudioConfig
from .features import AudioLengths

# ---------------------------------------------------------------------------------------------
# shared pieces

FEW_ROWS = 64  # at most this many input rows: CPU linears run as W @ x^T (see linear())


def linear(mod: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``mod(x)``. On the CPU with few input rows (decode steps, the last-position lm_head) it is
    computed as W @ x^T: MKL runs that layout about 2x faster than x @ W^T when W is large and x
    has few rows (measured for the 155,947-row lm_head and the block linears at 16 rows). Same
    math; only the float32 accumulation order may differ."""
    rows = x.numel() // x.shape[-1]
    if x.device.type != "cpu" or rows > FEW_ROWS or rows == 0:
        return mod(x)
    y = torch.mm(mod.weight, x.reshape(rows, x.shape[-1]).T)
    if mod.bias is not None:
        y += mod.bias[:, None]
    return y.T.contiguous().view(*x.shape[:-1], -1)


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in float32, returned in x's dtype. weight [H]."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight.float()).to(x.dtype)


class FloatLayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 (default eps 1e-5), returned in the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = None if self.weight is None else self.weight.float()
        b = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


# ---------------------------------------------------------------------------------------------
# audio encoder


class EncoderAttention(nn.Module):
    """Self-attention with q and k each scaled by hd^-0.25; ``key`` has no bias."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: torch.Tensor, key_ok: torch.Tensor) -> torch.Tensor:
        """x [N, T, D]; key_ok [N, 1, 1, T] bool (False = padded frame) -> [N, T, D]."""
        n, t, d = x.shape
        scale = (d // self.n_head) ** -0.25

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(n, t, self.n_head, -1).transpose(1, 2)

        q = heads(self.query(x)) * scale
        k = heads(self.key(x)) * scale
        v = heads(self.value(x))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=key_ok, scale=1.0)
        return self.out(o.transpose(1, 2).reshape(n, t, d))


class EncoderBlock(nn.Module):
    """Pre-LN transformer block: x + attn(attn_ln(x)); x + mlp(mlp_ln(x)); mlp = Linear, exact GELU, Linear."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = EncoderAttention(n_state, n_head)
        self.attn_ln = FloatLayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = FloatLayerNorm(n_state)

    def forward(self, x: torch.Tensor, key_ok: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_ln(x), key_ok)
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    """conv1 -> GELU -> conv2 (stride 2) -> GELU -> + positional_embedding -> blocks
    -> AvgPool1d(2, 2) -> ln_post -> proj; plus the 2-row ``audio_bos_eos_token`` table."""

    def __init__(self, cfg: AudioEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv1 = nn.Conv1d(cfg.n_mels, cfg.n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(cfg.n_state, cfg.n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.empty(cfg.n_ctx, cfg.n_state), persistent=True)
        self.blocks = nn.ModuleList([EncoderBlock(cfg.n_state, cfg.n_head) for _ in range(cfg.n_layer)])
        self.ln_post = FloatLayerNorm(cfg.n_state)
        self.proj = nn.Linear(cfg.n_state, cfg.output_dim)
        self.audio_bos_eos_token = nn.Embedding(2, cfg.output_dim)

    def forward(self, mels: torch.Tensor, conv_lens: torch.Tensor, cnn_lens: torch.Tensor) -> torch.Tensor:
        """mels [N, 80, F] (any float dtype); conv_lens [N] mel frames each audio may see
        (later frames are zeroed, as conv zero padding); cnn_lens [N] valid post-conv frames.
        Returns pooled, projected features [N, T // 2, output_dim] (rows past a clip's
        audio_token_num are padding)."""
        dtype = self.conv1.weight.dtype
        n, _, f = mels.shape
        frame = torch.arange(f, device=mels.device)
        x = mels.to(dtype) * (frame[None, :] < conv_lens[:, None]).to(dtype)[:, None, :]
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # [N, T, D]
        t = x.shape[1]
        if t > self.positional_embedding.shape[0]:
            raise AdapterError(f"audio encoder input of {t} frames exceeds n_ctx {self.positional_embedding.shape[0]}")
        x = x + self.positional_embedding[:t].to(dtype)
        valid = torch.arange(t, device=x.device)[None, :] < cnn_lens[:, None]  # [N, T]
        x = x * valid[..., None].to(dtype)
        key_ok = valid[:, None, None, :]
        for block in self.blocks:
            x = block(x, key_ok)
        x = F.avg_pool1d(x.transpose(1, 2), kernel_size=2, stride=2).transpose(1, 2)
        return self.proj(self.ln_post(x))

    def encode(
        self,
        mels: torch.Tensor,
        lengths: Sequence[AudioLengths],
        context_cnn_lens: Sequence[int] | None = None,
        max_batch: int = 8,
    ) -> list[torch.Tensor]:
        """Features written over each audio's span: list of [span_tokens, output_dim]
        = [bos, audio_token_num encoder rows, eos] in the weight dtype.

        mels [N, 80, >= 2*after_cnn_len] float32 (the 30 s log-mels). Each audio is run on its
        true length. context_cnn_lens[i] = max after_cnn_len of the audios the REFERENCE would
        have encoded together with audio i (the audios of the same prompt); when it exceeds
        audio i's own, the reference's conv1 also saw mel frame 2*after_cnn_len (its quirk 2),
        so we feed that one extra frame. None = each audio alone.
        """
        if len(lengths) != mels.shape[0]:
            raise AdapterError(f"{mels.shape[0]} mels but {len(lengths)} audio lengths")
        ctx = list(context_cnn_lens) if context_cnn_lens is not None else [a.after_cnn_len for a in lengths]
        conv_lens = [2 * a.after_cnn_len + (1 if c > a.after_cnn_len else 0) for a, c in zip(lengths, ctx)]
        bos, eos = self.audio_bos_eos_token.weight[0:1], self.audio_bos_eos_token.weight[1:2]
        out: list[torch.Tensor] = []
        for s in range(0, len(lengths), max_batch):
            idx = range(s, min(s + max_batch, len(lengths)))
            f_max = min(max(conv_lens[i] for i in idx), mels.shape[-1])
            dev = mels.device
            feats = self(
                mels[s : s + len(idx), :, :f_max],
                torch.tensor([conv_lens[i] for i in idx], device=dev),
                torch.tensor([lengths[i].after_cnn_len for i in idx], device=dev),
            )
            for j, i in enumerate(idx):
                out.append(torch.cat([bos, feats[j, : lengths[i].audio_token_num], eos], dim=0))
        return out


# ---------------------------------------------------------------------------------------------
# LLM


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[..., 2m] -> [-x2, x1] with x1/x2 the first/second halves (not interleaved)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, nh, T, hd]; cos/sin float32 [B, 1, T, rot] -> rotated first `rot` dims, in x's dtype."""
    rot = cos.shape[-1]
    xr = x[..., :rot].float()
    xr = xr * cos + rotate_half(xr) * sin
    if rot == x.shape[-1]:
        return xr.to(x.dtype)
    return torch.cat((xr, x[..., rot:].float()), dim=-1).to(x.dtype)


@dataclass
class PackedRow:
    """One prompt inside a packed (padding-free) prefill: its tokens are x[start : start + length]
    of the packed sequence and go to cache row `row`, slots first_slot.. (after its left pad);
    cos/sin [1, 1, length, rot] and logn [1, 1, length, 1] (or None) are those slots' values."""

    row: int
    start: int
    length: int
    first_slot: int
    cos: torch.Tensor
    sin: torch.Tensor
    logn: torch.Tensor | None


class QwenAttention(nn.Module):
    """Fused q|k|v projection (with bias), RoPE, optional logn query scaling, SDPA, c_proj."""

    def __init__(self, cfg: QwenAudioConfig) -> None:
        super().__init__()
        self.n_head = cfg.num_attention_heads
        self.head_dim = cfg.head_dim
        self.c_attn = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=True)
        self.c_proj = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=not cfg.no_bias)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        logn: torch.Tensor | None,
        mask: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor] | None = None,
        write_pos: torch.Tensor | None = None,
        attend_cache: bool = False,
    ) -> torch.Tensor:
        """x [B, T, H]; cos/sin [B, 1, T, rot]; logn [B, 1, T, 1] or None; mask additive
        [B, 1, T, S] in the compute dtype. With `cache` ([B, nh, S_max, hd] each), k/v are
        written at slots `write_pos` [T]; attend_cache=True attends over the whole cache
        (S = S_max), else over this call's own T keys (S = T). Returns [B, T, H]."""
        b, t, h = x.shape
        q, k, v = self._positioned_heads(linear(self.c_attn, x), cos, sin, logn)
        if cache is not None:
            k_cache, v_cache = cache
            k_cache.index_copy_(2, write_pos, k)
            v_cache.index_copy_(2, write_pos, v)
            if attend_cache:
                k, v = k_cache, v_cache
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return linear(self.c_proj, o.transpose(1, 2).reshape(b, t, h))

    def _positioned_heads(
        self, qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, logn: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fused projection output [B, T, 3H] -> q, k, v [B, nh, T, hd]; RoPE on q and k, logn on q."""
        b, t, _ = qkv.shape
        q, k, v = (y.view(b, t, self.n_head, self.head_dim).transpose(1, 2) for y in qkv.chunk(3, dim=-1))
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if logn is not None:
            q = q * logn.to(q.dtype)
        return q, k, v

    def forward_packed(
        self, x: torch.Tensor, rows: Sequence["PackedRow"], cache: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Prefill without padding. x [N, H]: the rows' tokens laid end to end. Projections run
        on all N tokens at once; RoPE, logn, the cache write (at the row's own slots) and causal
        attention run per row, over that row's tokens only. Returns [N, H]."""
        h = x.shape[-1]
        qkv = linear(self.c_attn, x)
        k_cache, v_cache = cache
        out = []
        for r in rows:
            q, k, v = self._positioned_heads(qkv[None, r.start : r.start + r.length], r.cos, r.sin, r.logn)
            slots = slice(r.first_slot, r.first_slot + r.length)
            k_cache[r.row, :, slots] = k[0]
            v_cache[r.row, :, slots] = v[0]
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            out.append(o[0].transpose(0, 1).reshape(r.length, h))
        return linear(self.c_proj, torch.cat(out))


class QwenMLP(nn.Module):
    """c_proj(w1(x) * silu(w2(x))) -- the SiLU is on w2."""

    def __init__(self, cfg: QwenAudioConfig) -> None:
        super().__init__()
        bias = not cfg.no_bias
        self.w1 = nn.Linear(cfg.hidden_size, cfg.mlp_width, bias=bias)
        self.w2 = nn.Linear(cfg.hidden_size, cfg.mlp_width, bias=bias)
        self.c_proj = nn.Linear(cfg.mlp_width, cfg.hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(self.c_proj, linear(self.w1, x) * F.silu(linear(self.w2, x)))


class QwenBlock(nn.Module):
    def __init__(self, cfg: QwenAudioConfig) -> None:
        super().__init__()
        self.ln_1 = RMSNorm(cfg.hidden_size, cfg.layer_norm_epsilon)
        self.attn = QwenAttention(cfg)
        self.ln_2 = RMSNorm(cfg.hidden_size, cfg.layer_norm_epsilon)
        self.mlp = QwenMLP(cfg)

    def forward(self, x: torch.Tensor, *attn_args, **attn_kwargs) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), *attn_args, **attn_kwargs)
        return x + self.mlp(self.ln_2(x))

    def forward_packed(self, x: torch.Tensor, rows: Sequence["PackedRow"],
                       cache: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x = x + self.attn.forward_packed(self.ln_1(x), rows, cache)
        return x + self.mlp(self.ln_2(x))


class QwenTransformer(nn.Module):
    """Holds the ``transformer.*`` parameters: wte, h.N, ln_f, audio."""

    def __init__(self, cfg: QwenAudioConfig) -> None:
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.h = nn.ModuleList([QwenBlock(cfg) for _ in range(cfg.num_hidden_layers)])
        self.ln_f = RMSNorm(cfg.hidden_size, cfg.layer_norm_epsilon)
        self.audio = AudioEncoder(cfg.audio)


class QwenAudioModel(nn.Module):
    """The whole model. Build it under ``torch.device("meta")`` and load with weights.load_model."""

    def __init__(self, cfg: QwenAudioConfig) -> None:
        super().__init__()
        self.config = cfg
        self.transformer = QwenTransformer(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def embed(self, input_ids: torch.Tensor, audio_feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Token embeddings [B, T, H] with audio k's features written over the k-th
        ``<audio>``..``</audio>`` span (inclusive), spans counted row by row.

        input_ids [B, T] long; audio_feats[k] [span_k, H]."""
        x = self.transformer.wte(input_ids)
        a = self.config.audio
        starts = (input_ids == a.audio_start_id).nonzero().tolist()
        ends = (input_ids == a.audio_end_id).nonzero().tolist()
        if len(starts) != len(audio_feats) or len(ends) != len(starts):
            raise AdapterError(
                f"{len(starts)} <audio> / {len(ends)} </audio> ids in the batch but {len(audio_feats)} audio features"
            )
        if not starts:
            return x
        b, t, h = x.shape
        index = []
        for k, ((row, s), (row_e, e)) in enumerate(zip(starts, ends)):
            if row != row_e or e - s + 1 != audio_feats[k].shape[0]:
                raise AdapterError(
                    f"audio {k}: span at row {row} [{s}, {e}] does not fit {audio_feats[k].shape[0]} feature rows"
                )
            index.append(torch.arange(row * t + s, row * t + e + 1, device=x.device))
        flat = x.reshape(b * t, h).index_copy(0, torch.cat(index), torch.cat(list(audio_feats)).to(x.dtype))
        return flat.view(b, t, h)

    def hidden_states(self, x: torch.Tensor, *positions: Any,
                      caches: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None, **cache_args: Any) -> torch.Tensor:
        """All LLM blocks then ln_f: x [B, T, H] -> [B, T, H]. `positions` are (cos, sin, logn,
        mask) and `cache_args` (write_pos, attend_cache) as QwenAttention.forward takes them;
        block i gets caches[i]."""
        for i, block in enumerate(self.transformer.h):
            x = block(x, *positions, caches[i] if caches is not None else None, **cache_args)
        return self.transformer.ln_f(x)

    def hidden_states_packed(self, x: torch.Tensor, rows: Sequence["PackedRow"],
                             caches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """The prefill without padding: x [N, H] (rows end to end, see PackedRow) -> [N, H],
        each row's k/v written into its cache row at its own slots."""
        for block, cache in zip(self.transformer.h, caches):
            x = block.forward_packed(x, rows, cache)
        return self.transformer.ln_f(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """lm_head: [..., H] -> float32 [..., vocab] (matmul in the weight dtype)."""
        return linear(self.lm_head, hidden.to(self.lm_head.weight.dtype)).float()


# ---------------------------------------------------------------------------------------------
# position tables (RoPE with dynamic NTK, logn attention)


def ntk_alpha(true_len: int, seq_length: int) -> int:
    """Dynamic-NTK factor: max(2^ceil(log2(len / seq_length) + 1) - 1, 1) (1 for len <= seq_length)."""
    return max(2 ** math.ceil(math.log(true_len / seq_length, 2) + 1) - 1, 1)


def rope_tables(
    cfg: QwenAudioConfig, alphas: Sequence[float], n_pos: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin float32 [B, 1, n_pos, rot] for slot positions 0..n_pos-1, row b with NTK alpha[b]:
    base' = base * alpha^(rot/(rot-2)), inv_freq = 1 / base'^(2i/rot), angle = pos * inv_freq."""
    rot = cfg.rotary_dim
    pos = torch.arange(n_pos, device=device, dtype=torch.float32)
    by_alpha: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}
    cos_rows, sin_rows = [], []
    for alpha in alphas:
        if alpha not in by_alpha:
            base = cfg.rotary_emb_base * alpha ** (rot / (rot - 2))
            inv_freq = 1.0 / (base ** (torch.arange(0, rot, 2, device=device).float() / rot))
            freqs = torch.outer(pos, inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            by_alpha[alpha] = (emb.cos(), emb.sin())
        c, s = by_alpha[alpha]
        cos_rows.append(c)
        sin_rows.append(s)
    return torch.stack(cos_rows)[:, None], torch.stack(sin_rows)[:, None]


def logn_table(cfg: QwenAudioConfig, pad_lens: Sequence[int], n_pos: int, device: torch.device | str) -> torch.Tensor | None:
    """Query scale float32 [B, 1, n_pos, 1]: log(p+1)/log(seq_length) where the row's own
    position p = slot - pad_len satisfies p + 1 > seq_length, else 1. None when logn is off.

    The row's own position (not the padded slot) is used so that a left-padded row computes
    exactly what it computes alone (the reference's batched run would use the padded slot)."""
    if not cfg.use_logn_attn:
        return None
    slots = torch.arange(n_pos, dtype=torch.float64)
    rows = []
    for pad in pad_lens:
        p1 = slots - pad + 1  # position + 1
        scale = torch.where(p1 > cfg.seq_length, torch.log(p1.clamp(min=1)) / math.log(cfg.seq_length), 1.0)
        rows.append(scale)
    return torch.stack(rows).to(device=device, dtype=torch.float32)[:, None, :, None]
