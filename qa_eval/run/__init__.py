"""`qa-eval run`: one task with one model, from manifest to metrics.json.

Follow one request through the modules in order:

* `request.py`  RunRequest: the validated options, and every default (batch size, failure
                threshold, workers) defined once;
* `plan.py`     make_plan: task, samples, prompts, scorer and run folder, all decided and
                checked before any model loads; the fingerprint that names the run;
* `resume.py`   generate_missing: which samples still need a prediction (per rank), then the loop;
* `loop.py`     run_batches / BatchRunner: duration-sorted batches, audio decoded in worker
                processes, adapter.generate with out-of-memory back-off and failure isolation,
                each batch appended to the store;
* `evaluate.py` evaluate: plan -> generate what is missing -> merge -> score -> metrics.json.
"""

from qa_eval.run.request import RunRequest
from qa_eval.run.evaluate import evaluate

__all__ = ["RunRequest", "evaluate"]
