"""The command line in each process torchrun starts, twice, for tests/test_ddp.py:

    python -m torch.distributed.run --nproc_per_node=2 tests/ddp_cli.py OUT run test3_atto_radam ...

runs `convnext-nb run ...` twice in each rank (the second call must load what the first saved)
and writes OUT/rank<R>.json: per call, the exit status, what the rank printed and the files it
put in place (every file the package writes ends in os.replace). Two calls in one process
spare the test a second start of torch in every rank.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

from convnext_nb import cli


def call_twice(argv: list[str]) -> list[dict]:
    real_replace, calls = os.replace, []
    for _ in range(2):
        written, printed = [], io.StringIO()

        def replace(src, dst, *args, written=written, **kwargs):
            written.append(os.fspath(dst))
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace
        try:
            with contextlib.redirect_stdout(printed):
                code = cli.main(argv)
        finally:
            os.replace = real_replace
        calls.append({"code": code, "printed": printed.getvalue(), "written": written})
    return calls


if __name__ == "__main__":
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    calls = call_twice(argv)
    (out / f"rank{os.environ['RANK']}.json").write_text(json.dumps(calls, indent=1))
    sys.exit(max(call["code"] for call in calls))
