"""``python -m docrec ...`` (and ``torchrun --nproc_per_node=N -m docrec train lenet ...``)."""

import sys

from docrec.cli import main

sys.exit(main())
