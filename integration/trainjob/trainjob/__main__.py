import sys

from trainjob.cli import main

sys.exit(main())
