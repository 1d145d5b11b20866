import sys

from clipsgd.cli import main

sys.exit(main())
