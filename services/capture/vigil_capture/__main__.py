"""``python -m vigil_capture`` runs the capture service (same as ``vigil capture``)."""

import sys

from vigil_capture.main import main

sys.exit(main(sys.argv[1:]))
