"""``python -m monitor`` runs the command line, same as ``news-monitor``."""

from monitor.cli.main import main

raise SystemExit(main())
