"""Text normalisers of the Qwen2-Audio ASR scoring (`wer-normalized`).

`whisper`: OpenAI Whisper's English and basic normalisers; `chinese`: SpeechIO cn_tn's
rules as Qwen2-Audio's `evaluate_asr.py` configures them; `chinese_numbers`: how those rules
read numbers aloud. Pure Python, no torch.
"""
