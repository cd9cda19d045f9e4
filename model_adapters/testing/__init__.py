"""Random checkpoints for tests and benchmarks, built offline (no hub), in each family's real format.

    qwen_audio    the original Qwen-Audio layout (config.json + safetensors with the original
                  key names + tokenizer/mel assets), any shape; random weights in memory too
    qwen2_audio   a tiny Qwen2-Audio checkpoint that transformers loads like the real one

Adapters point their `conformance_checkpoint` here, so every registered adapter is exercised
by the conformance suite (tests/model_adapters/test_conformance.py) on a real, tiny checkpoint.
"""
