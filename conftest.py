"""pytest configuration shared by the unit tests and nbval.

nbval starts one Jupyter kernel per notebook; kernels inherit this process's environment, so
setting quick mode here makes every notebook run its small, offline configuration, and putting
this checkout first on PYTHONPATH makes the kernels import this checkout's `convnext_nb` (not
whichever copy happens to be installed, e.g. an editable install of another clone).
"""

import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent)

os.environ.setdefault("CONVNEXT_NB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")  # unit tests draw figures without a display
os.environ["PYTHONPATH"] = os.pathsep.join(
    [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT]
)
