"""`python -m qunflow …` is the `qunflow` command."""

import sys

from qunflow.editor.cli import main

sys.exit(main())
