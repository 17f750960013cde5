"""pytest configuration shared by the unit tests and nbval.

nbval starts one Jupyter kernel per notebook; kernels inherit this process's environment, so
setting quick mode here makes every notebook run its small, offline configuration.
"""

import os

os.environ.setdefault("CONVNEXT_NB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")  # unit tests draw figures without a display
