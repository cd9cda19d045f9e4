"""`python -m qa_eval` (also what `torchrun -m qa_eval` and `--launcher torchrun` start).

`python -m` puts the working directory first on sys.path, where a user's own `tasks/` or
`model_adapters/` folder would shadow qa-eval's plugin packages of the same names. It is taken
off again before anything else is imported, unless qa-eval itself is run from that folder (a
source checkout used without installing it). The `qa-eval` console script never had it.
"""

import sys
from pathlib import Path


def _drop_working_directory() -> None:
    source_root = Path(__file__).resolve().parent.parent
    if sys.path and Path(sys.path[0] or ".").resolve() == Path.cwd().resolve() != source_root:
        del sys.path[0]


_drop_working_directory()

from qa_eval.cli import main  # noqa: E402  (after the sys.path fix above)

sys.exit(main())
