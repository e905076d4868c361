"""``python -m archive``: the same command as the ``archive`` script."""

from archive.cli import main

raise SystemExit(main())
