import sys

from pisight.device.cli import main

sys.exit(main())
