"""``python -m eval.bench``: the same as ``rag bench`` (the scale benchmark's child processes run this way too)."""

from eval.bench import main

raise SystemExit(main())
