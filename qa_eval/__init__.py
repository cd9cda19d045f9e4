"""qa-eval: reproduce and track the Qwen-Audio paper tables for audio-language models."""

__version__ = "0.1.0"
