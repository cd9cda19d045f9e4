"""Native Qwen-Audio (v1) implementation: no remote code, original checkpoint layout.

Modules (one job each):
    config          frozen dataclasses parsed from the original ``config.json``
    tokenizer       tiktoken BPE + Qwen-Audio special tokens, ``<audio>`` span expansion
    features        batched log-mel (Whisper recipe) and the audio length arithmetic
    model           audio encoder + Qwen-7B style LLM (module names = checkpoint key names)
    weights         meta-device construction and per-tensor checkpoint loading
    generate        batched greedy decoding: static-KV-cache fast path + no-cache reference path
    pipeline        prompt text + waveforms -> ids/features -> generation -> text
    adapter         the qa-eval ModelAdapter classes (``qwen-audio``, ``qwen-audio-chat``)
    raw_generate    ``generate_file``: CASES.jsonl -> OUT.jsonl (``qa-eval generate``)
    random_checkpoint  random-weight checkpoints in the original on-disk format
"""
