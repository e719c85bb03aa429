import sys

from pose_appliance.cli import main

sys.exit(main())
