"""`qa-eval bench`: qa-eval's Qwen-Audio engine against transformers' Qwen2-Audio, random weights.

    workload     shapes (tiny / small / full), clips, prompt, batches
    modes        the engine (eager and compiled) and transformers generate (one at a time, batched)
    machine      measured matmul rate and copy bandwidth, peak memory
    floor        the FLOP/byte lower bound on the engine's time
    run          run_bench: every mode in one process, the result document and its table
    end_to_end   a whole test-clean-shaped evaluation through `qa-eval run`'s path, timed
    command      the `bench` sub-command (registered in the `qa_eval.commands` entry-point group)

Everything the bench needs (tokenizer, mel filters) ships in the package
(`model_adapters/qwen_audio/assets`), so it runs from an installed wheel.
"""
