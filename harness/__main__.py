import sys

from harness.entry.cli import main

sys.exit(main())
