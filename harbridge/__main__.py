"""``python -m harbridge`` runs the command line."""

from harbridge.cli import main

raise SystemExit(main())
