"""Batched greedy decoding with left padding.

Two paths that must give identical ids:
  * ``greedy_generate(..., use_cache=True)``: gpt-fast style. One prefill writes a static,
    preallocated KV cache [layers][B, nh, T + max_new, hd]; then ``StaticDecoder.step()`` decodes
    one token for every row. The step (``decode_step``) reads/writes only preallocated buffers
    (token, step counter, done mask) and has no Python branch on tensor values, so
    ``compile_step=True`` runs it through torch.compile (on CUDA as CUDA graphs, with cache
    lengths rounded up to CACHE_BUCKET so that few shapes occur). Finished rows emit the pad id.
  * ``greedy_generate(..., use_cache=False)``: the deliberately simple reference. Every step
    re-runs the full sequence without any cache.

Positions follow the reference: RoPE angle = slot index in the padded row (so left padding
only shifts positions, which RoPE's relativity makes a rounding-level change); pad keys are
masked with the dtype's most negative value. NTK alpha is per row, from the prompt's true
length, fixed for the whole generation; logn scaling uses the row's own position (see
model.logn_table). Token selection: the end token's logit is -inf for the first
min_new_tokens steps, argmax, finished rows emit the pad id, a row finishes when it emits any
of ``end_ids``.

Packed prefill: when more than PACK_MIN_PADDING of the batch is padding, the prompt pass lays
the rows end to end (no padding) for the projections and MLPs and attends per row; the cache
and every later step are the same as after a padded prefill.

Finished rows leave the batch: once at least half of the running rows are done,
``StaticDecoder.keep()`` index-selects the survivors' cache rows and buffers, so a batch whose
answers have very different lengths (a 2-token label beside a 30-token transcript) stops paying
for the finished ones. Each row's arithmetic is its own (attention, norms and RoPE are per row),
so this changes no id.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from qa_eval.adapter import cut_at_end  # noqa: F401  (re-exported for the pipeline)

from .model import PackedRow, QwenAudioModel, logn_table, ntk_alpha, rope_tables


@dataclass(frozen=True, slots=True)
class GreedySettings:
    """max_new_tokens >= 1; min_new_tokens: steps during which every end id is forbidden."""

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
    the token being chosen); done bool [B] -> (next ids [B], new done [B]). No end token may be
    chosen before min_new_tokens (all of them: a chat model has three)."""
    ends = logits.index_select(1, end_ids)
    logits.index_copy_(1, end_ids, torch.where(step < s.min_new_tokens, torch.full_like(ends, -float("inf")), ends))
    nxt = logits.argmax(dim=-1)
    nxt = torch.where(done, torch.full_like(nxt, s.pad_id), nxt)
    return nxt, done | torch.isin(nxt, end_ids)


class StaticDecoder:
    """Prefill + fixed-shape one-token steps over a preallocated KV cache.

    Buffers (all preallocated, updated in place): ``token`` [B] long, ``step`` 0-dim long (index
    of the token the next step() chooses), ``done`` [B] bool. Cache per layer: k, v
    [B, nh, S_max, hd] in the model dtype, S_max = T + max_new_tokens."""

    def __init__(self, model: QwenAudioModel, batch: PaddedBatch, settings: GreedySettings,
                 compile_step: bool = False) -> None:
        self.model = model
        self.s = settings
        cfg = model.config
        b, self.prompt_len = batch.input_ids.shape
        self.pad_lens = list(batch.pad_lens)
        self.max_len = self.prompt_len + settings.max_new_tokens
        if compile_step:  # few distinct shapes, so few compilations / CUDA graphs
            self.max_len = -(-self.max_len // CACHE_BUCKET) * CACHE_BUCKET
        dev, dt = batch.input_ids.device, model.dtype
        self._step_fn = compiled_decode_step(dev.type) if compile_step else decode_step
        self.pos = PositionTables.build(model, batch, self.max_len)
        shape = (b, cfg.num_attention_heads, self.max_len, cfg.head_dim)
        self.caches = [(torch.zeros(shape, dtype=dt, device=dev), torch.zeros(shape, dtype=dt, device=dev))
                       for _ in range(cfg.num_hidden_layers)]
        self.end_ids = torch.tensor(settings.end_ids, device=dev, dtype=torch.long)
        self.token = torch.zeros(b, dtype=torch.long, device=dev)
        self.step_idx = torch.zeros((), dtype=torch.long, device=dev)
        self.done = torch.zeros(b, dtype=torch.bool, device=dev)
        self._slots = torch.arange(self.max_len, device=dev)
        self._last_prompt_slot = torch.tensor(self.prompt_len - 1, device=dev)
        self._static_cache = compile_step and dev.type == "cuda"
        self._mark_cache_static()

    def _mark_cache_static(self) -> None:
        """CUDA graphs write the cache in place: tell torch.compile its addresses are fixed.
        torch offers this only as torch._dynamo.mark_static_address (listed in torch._dynamo's
        __all__ and in torch's CUDA-graph documentation; no public alias up to torch 2.13): the
        one use of an underscored module in qa-eval, allowed by name in tests/packaging."""
        if self._static_cache:
            for k, v in self.caches:
                torch._dynamo.mark_static_address(k)
                torch._dynamo.mark_static_address(v)

    @property
    def rows(self) -> int:
        return self.token.shape[0]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only decoder rows `rows` (long [B']), in that order: cache, positions, buffers."""
        pick = lambda t: t.index_select(0, rows)  # noqa: E731
        self.caches = [(pick(k), pick(v)) for k, v in self.caches]
        self._mark_cache_static()
        p = self.pos
        self.pos = PositionTables(pick(p.cos), pick(p.sin), pick(p.logn) if p.logn is not None else None,
                                  pick(p.key_ok))
        self.token = pick(self.token)
        self.done = pick(self.done)
        self.pad_lens = [self.pad_lens[i] for i in rows.tolist()]

    @torch.no_grad()
    def prefill(self, x: torch.Tensor) -> torch.Tensor:
        """x: spliced prompt embeddings [B, T, H]. Fills the cache, chooses token 0; returns it [B].

        When more than PACK_MIN_PADDING of the batch is left padding, the prefill runs packed
        (rows end to end, no padding; see QwenAttention.forward_packed), else as one padded batch."""
        t = x.shape[1]
        if padding_share(self.pad_lens, t) > PACK_MIN_PADDING:
            last = self._prefill_packed(x)
        else:
            cos, sin, logn = self.pos.window(t)
            mask = self.pos.causal_mask(t, self.model.dtype)
            write = self._slots[:t]
            last = self.model.hidden_states(x, cos, sin, logn, mask, caches=self.caches, write_pos=write,
                                             attend_cache=False)[:, -1]
        logits = self.model.logits(last)
        nxt, done = select_next(logits, self.step_idx, self.done, self.s, self.end_ids)
        self.token.copy_(nxt)
        self.done.copy_(done)
        self.step_idx.add_(1)
        return self.token

    def _prefill_packed(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden state [B, H] of each row's last prompt token, computed without the padding."""
        t, p = x.shape[1], self.pos
        rows, start = [], 0
        for b, pad in enumerate(self.pad_lens):
            logn = p.logn[b : b + 1, :, pad:t] if p.logn is not None else None
            rows.append(PackedRow(b, start, t - pad, pad, p.cos[b : b + 1, :, pad:t], p.sin[b : b + 1, :, pad:t], logn))
            start += t - pad
        packed = torch.cat([x[b, pad:] for b, pad in enumerate(self.pad_lens)])
        h = self.model.hidden_states_packed(packed, rows, self.caches)
        return h[[r.start + r.length - 1 for r in rows]]

    @torch.no_grad()
    def step(self) -> torch.Tensor:
        """Feed ``token`` at slot prompt_len + step - 1, choose the next token; returns ``token`` [B]."""
        p = self.pos
        nxt, done = self._step_fn(self.model, self.token, self.step_idx, self.done, self.caches, p.cos, p.sin,
                                  p.logn, p.key_ok, self._slots, self._last_prompt_slot, self.end_ids, self.s)
        self.token.copy_(nxt)
        self.done.copy_(done)
        self.step_idx.add_(1)
        return self.token


def decode_step(
    model: QwenAudioModel, token: torch.Tensor, step_idx: torch.Tensor, done: torch.Tensor,
    caches: Sequence[tuple[torch.Tensor, torch.Tensor]], cos: torch.Tensor, sin: torch.Tensor,
    logn: torch.Tensor | None, key_ok: torch.Tensor, slots: torch.Tensor, last_prompt_slot: torch.Tensor,
    end_ids: torch.Tensor, s: GreedySettings,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One token for every row (the body of StaticDecoder.step, a free function so one compiled
    version serves every decoder): writes k/v at slot last_prompt_slot + step_idx, attends over
    the cache, returns (next ids [B], new done [B]). Only tensors vary between calls."""
    slot = (step_idx + last_prompt_slot).view(1)
    ok = key_ok & (slots <= slot)[None, :]
    mask = _additive(ok[:, None, None, :], model.dtype)
    x = model.transformer.wte(token[:, None])
    step_logn = logn.index_select(2, slot) if logn is not None else None
    h = model.hidden_states(x, cos.index_select(2, slot), sin.index_select(2, slot), step_logn, mask,
                            caches=caches, write_pos=slot, attend_cache=True)
    return select_next(model.logits(h[:, -1]), step_idx, done, s, end_ids)


PACK_MIN_PADDING = 0.15  # prefill packed (no padding) when more of the batch than this is padding


def padding_share(pad_lens: Sequence[int], t: int) -> float:
    """Share of a [B, t] left-padded batch's positions that are padding."""
    return sum(pad_lens) / (len(pad_lens) * t) if pad_lens and t else 0.0


CACHE_BUCKET = 128  # compiled steps: cache lengths rounded up to a multiple of this


@functools.lru_cache(maxsize=None)
def compiled_decode_step(device_type: str) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """decode_step through torch.compile; on CUDA with CUDA graphs ("reduce-overhead"), so a
    step is one graph replay instead of hundreds of kernel launches."""
    mode = "reduce-overhead" if device_type == "cuda" else None
    return torch.compile(decode_step, mode=mode)


@torch.no_grad()
def greedy_generate(
    model: QwenAudioModel,
    batch: PaddedBatch,
    audio_feats: Sequence[torch.Tensor],
    settings: GreedySettings,
    use_cache: bool = True,
    compact: bool = True,
    compile_step: bool = False,
) -> torch.Tensor:
    """Greedy ids [B, n_steps] (n_steps <= max_new_tokens; rows that finished early hold pad_id
    after their end token). audio_feats: per ``<audio>`` span, row-major order. compact=False
    keeps finished rows in the batch (for tests and measurements); compile_step runs the
    per-token step through torch.compile (CUDA graphs on CUDA)."""
    x = model.embed(batch.input_ids, audio_feats)
    if not use_cache:
        return _reference_generate(model, batch, x, settings)
    dec = StaticDecoder(model, batch, settings, compile_step)
    out = torch.full((x.shape[0], settings.max_new_tokens), settings.pad_id, dtype=torch.long, device=x.device)
    out[:, 0] = dec.prefill(x)
    running = torch.arange(x.shape[0], device=x.device)  # original row of each decoder row
    n_steps = 1
    while n_steps < settings.max_new_tokens:
        n_done = int(dec.done.sum())
        if n_done == dec.rows:
            break
        if compact and 2 * n_done >= dec.rows:
            alive = (~dec.done).nonzero().squeeze(1)
            dec.keep(alive)
            running = running.index_select(0, alive)
        out[running, n_steps] = dec.step()
        n_steps += 1
    return out[:, :n_steps]


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
