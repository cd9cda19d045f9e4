"""Batched greedy decoding with left padding.

Two paths that must give identical ids:
  * ``greedy_generate(..., use_cache=True)``: gpt-fast style. One prefill writes a static,
    preallocated KV cache [layers][B, nh, T + max_new, hd]; then ``StaticDecoder.step()`` decodes
    one token for every row. The step reads/writes only preallocated buffers (token, step
    counter, done mask) and has no Python branch on tensor values, so it can later be wrapped
    in torch.compile / a CUDA graph. Finished rows keep running and emit the pad id.
  * ``greedy_generate(..., use_cache=False)``: the deliberately simple reference. Every step
    re-runs the full sequence without any cache.

Positions follow the reference: RoPE angle = slot index in the padded row (so left padding
only shifts positions, which RoPE's relativity makes a rounding-level change); pad keys are
masked with the dtype's most negative value. NTK alpha is per row, from the prompt's true
length, fixed for the whole generation; logn scaling uses the row's own position (see
model.logn_table). Token selection: the end token's logit is -inf for the first
min_new_tokens steps, argmax, finished rows emit the pad id, a row finishes when it emits any
of ``end_ids``.

Room left for later work: ``StaticDecoder.step`` is the unit to compile/graph-capture; rows
that are done could be compacted out between steps by index-selecting the cache/buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .model import QwenAudioModel, logn_table, ntk_alpha, rope_tables


@dataclass(frozen=True, slots=True)
class GreedySettings:
    """max_new_tokens >= 1; min_new_tokens: steps during which eod_id is forbidden."""

    max_new_tokens: int
    min_new_tokens: int = 1
    end_ids: tuple[int, ...] = (151643,)
    pad_id: int = 151643
    eod_id: int = 151643


@dataclass
class PaddedBatch:
    """Left-padded prompt ids [B, T] (long), pad_lens [B] and each row's true length."""

    input_ids: torch.Tensor
    pad_lens: list[int]

    @property
    def true_lens(self) -> list[int]:
        return [self.input_ids.shape[1] - p for p in self.pad_lens]


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int, device: torch.device | str = "cpu") -> PaddedBatch:
    """Stack id lists into a left-padded [B, max_len] long tensor."""
    t = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), t), pad_id, dtype=torch.long)
    for i, p in enumerate(prompts):
        if p:
            ids[i, t - len(p):] = torch.tensor(list(p), dtype=torch.long)
    return PaddedBatch(ids.to(device), [t - len(p) for p in prompts])


@dataclass
class PositionTables:
    """Everything position-dependent for slots 0..n_pos-1 of each row.

    cos/sin float32 [B, 1, n_pos, rot]; logn float32 [B, 1, n_pos, 1] or None;
    key_ok bool [B, n_pos] (False on left-pad slots)."""

    cos: torch.Tensor
    sin: torch.Tensor
    logn: torch.Tensor | None
    key_ok: torch.Tensor

    @classmethod
    def build(cls, model: QwenAudioModel, batch: PaddedBatch, n_pos: int) -> "PositionTables":
        cfg = model.config
        dev = batch.input_ids.device
        alphas = [ntk_alpha(n, cfg.seq_length) if cfg.use_dynamic_ntk else 1 for n in batch.true_lens]
        cos, sin = rope_tables(cfg, alphas, n_pos, dev)
        logn = logn_table(cfg, batch.pad_lens, n_pos, dev)
        slots = torch.arange(n_pos, device=dev)
        key_ok = slots[None, :] >= torch.tensor(batch.pad_lens, device=dev)[:, None]
        return cls(cos, sin, logn, key_ok)

    def causal_mask(self, n: int, dtype: torch.dtype) -> torch.Tensor:
        """Additive mask [B, 1, n, n] for a full forward over slots 0..n-1."""
        slots = torch.arange(n, device=self.key_ok.device)
        ok = (slots[None, :] <= slots[:, None])[None, None] & self.key_ok[:, None, None, :n]
        return _additive(ok, dtype)

    def window(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        logn = self.logn[:, :, :n] if self.logn is not None else None
        return self.cos[:, :, :n], self.sin[:, :, :n], logn


def _additive(ok: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    zero = torch.zeros((), dtype=dtype, device=ok.device)
    neg = torch.full((), torch.finfo(dtype).min, dtype=dtype, device=ok.device)
    return torch.where(ok, zero, neg)


def select_next(
    logits: torch.Tensor, step: torch.Tensor, done: torch.Tensor, s: GreedySettings, end_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One greedy choice. logits float32 [B, V] (modified in place); step 0-dim long (index of
    the token being chosen); done bool [B] -> (next ids [B], new done [B])."""
    eod = logits[:, s.eod_id]
    logits[:, s.eod_id] = torch.where(step < s.min_new_tokens, torch.full_like(eod, -float("inf")), eod)
    nxt = logits.argmax(dim=-1)
    nxt = torch.where(done, torch.full_like(nxt, s.pad_id), nxt)
    return nxt, done | torch.isin(nxt, end_ids)


class StaticDecoder:
    """Prefill + fixed-shape one-token steps over a preallocated KV cache.

    Buffers (all preallocated, updated in place): ``token`` [B] long, ``step`` 0-dim long (index
    of the token the next step() chooses), ``done`` [B] bool. Cache per layer: k, v
    [B, nh, S_max, hd] in the model dtype, S_max = T + max_new_tokens."""

    def __init__(self, model: QwenAudioModel, batch: PaddedBatch, settings: GreedySettings) -> None:
        self.model = model
        self.s = settings
        cfg = model.config
        b, self.prompt_len = batch.input_ids.shape
        self.max_len = self.prompt_len + settings.max_new_tokens
        dev, dt = batch.input_ids.device, model.dtype
        self.pos = PositionTables.build(model, batch, self.max_len)
        shape = (b, cfg.num_attention_heads, self.max_len, cfg.head_dim)
        self.caches = [(torch.zeros(shape, dtype=dt, device=dev), torch.zeros(shape, dtype=dt, device=dev))
                       for _ in range(cfg.num_hidden_layers)]
        self.end_ids = torch.tensor(settings.end_ids, device=dev, dtype=torch.long)
        self.token = torch.zeros(b, dtype=torch.long, device=dev)
        self.step_idx = torch.zeros((), dtype=torch.long, device=dev)
        self.done = torch.zeros(b, dtype=torch.bool, device=dev)
        self._slots = torch.arange(self.max_len, device=dev)

    @torch.inference_mode()
    def prefill(self, x: torch.Tensor) -> torch.Tensor:
        """x: spliced prompt embeddings [B, T, H]. Fills the cache, chooses token 0; returns it [B]."""
        t = x.shape[1]
        cos, sin, logn = self.pos.window(t)
        mask = self.pos.causal_mask(t, self.model.dtype)
        write = self._slots[:t]
        h = self.model.hidden_states(x, cos, sin, logn, mask, self.caches, write, attend_cache=False)
        logits = self.model.logits(h[:, -1])
        nxt, done = select_next(logits, self.step_idx, self.done, self.s, self.end_ids)
        self.token.copy_(nxt)
        self.done.copy_(done)
        self.step_idx.add_(1)
        return self.token

    @torch.inference_mode()
    def step(self) -> torch.Tensor:
        """Feed ``token`` at slot prompt_len + step - 1, choose the next token; returns ``token`` [B]."""
        slot = (self.step_idx + (self.prompt_len - 1)).view(1)
        cos = self.pos.cos.index_select(2, slot)
        sin = self.pos.sin.index_select(2, slot)
        logn = self.pos.logn.index_select(2, slot) if self.pos.logn is not None else None
        ok = self.pos.key_ok & (self._slots <= slot)[None, :]
        mask = _additive(ok[:, None, None, :], self.model.dtype)
        x = self.model.transformer.wte(self.token[:, None])
        h = self.model.hidden_states(x, cos, sin, logn, mask, self.caches, slot, attend_cache=True)
        logits = self.model.logits(h[:, -1])
        nxt, done = select_next(logits, self.step_idx, self.done, self.s, self.end_ids)
        self.token.copy_(nxt)
        self.done.copy_(done)
        self.step_idx.add_(1)
        return self.token


@torch.inference_mode()
def greedy_generate(
    model: QwenAudioModel,
    batch: PaddedBatch,
    audio_feats: Sequence[torch.Tensor],
    settings: GreedySettings,
    use_cache: bool = True,
) -> torch.Tensor:
    """Greedy ids [B, n_steps] (n_steps <= max_new_tokens; rows that finished early hold pad_id
    after their end token). audio_feats: per ``<audio>`` span, row-major order."""
    x = model.embed(batch.input_ids, audio_feats)
    if not use_cache:
        return _reference_generate(model, batch, x, settings)
    dec = StaticDecoder(model, batch, settings)
    out = [dec.prefill(x).clone()]
    for _ in range(settings.max_new_tokens - 1):
        if bool(dec.done.all()):
            break
        out.append(dec.step().clone())
    return torch.stack(out, dim=1)


def _reference_generate(
    model: QwenAudioModel, batch: PaddedBatch, prompt_x: torch.Tensor, s: GreedySettings
) -> torch.Tensor:
    """No-cache reference: each step runs the whole (prompt + generated) sequence again."""
    dev = batch.input_ids.device
    b, t = batch.input_ids.shape
    pos = PositionTables.build(model, batch, t + s.max_new_tokens)
    end_ids = torch.tensor(s.end_ids, device=dev, dtype=torch.long)
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    generated: list[torch.Tensor] = []
    for k in range(s.max_new_tokens):
        if generated:
            x = torch.cat([prompt_x, model.transformer.wte(torch.stack(generated, dim=1))], dim=1)
        else:
            x = prompt_x
        n = x.shape[1]
        cos, sin, logn = pos.window(n)
        h = model.hidden_states(x, cos, sin, logn, pos.causal_mask(n, model.dtype))
        logits = model.logits(h[:, -1])
        nxt, done = select_next(logits, torch.tensor(k, device=dev), done, s, end_ids)
        generated.append(nxt)
        if bool(done.all()):
            break
    return torch.stack(generated, dim=1)


def cut_at_end(ids: Sequence[int], end_ids: Sequence[int]) -> list[int]:
    """The ids before the first end id (exclusive)."""
    out = []
    for i in ids:
        if i in end_ids:
            break
        out.append(int(i))
    return out
