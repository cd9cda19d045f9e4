"""`python -m qa_eval` (also what `torchrun -m qa_eval` starts)."""

import sys

from qa_eval.cli import main

sys.exit(main())
