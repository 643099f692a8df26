"""pmf-trainer command line: python3 -m pmf_trainer COMMAND --help."""
import os

# torch's intra-op threads on top of OpenBLAS threads oversubscribe small CPUs: measured
# 56 img/s with 2 threads against 135 img/s with 1 for the bundled model's training step.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .cli import main  # noqa: E402

raise SystemExit(main())
