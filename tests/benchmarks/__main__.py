"""``python -m tests.benchmarks``: see :mod:`tests.benchmarks.harness`."""

import sys

from tests.benchmarks.harness import main

sys.exit(main())
