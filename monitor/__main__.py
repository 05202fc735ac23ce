"""``python -m monitor`` runs the command line, same as ``news-monitor``."""

from monitor.cli import main

raise SystemExit(main())
