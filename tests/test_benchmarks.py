"""The benchmark suite runs end to end in its tiny configuration (a smoke test, not a timing)."""

import json

from benchmarks.__main__ import SECTIONS, main


def test_benchmark_suite_runs_end_to_end(tmp_path, capsys):
    assert main(["--tiny", "--device", "cpu", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "benchmark.json").read_text())
    benchmarks = {row["benchmark"] for row in result["rows"]}
    assert len(benchmarks) >= len(SECTIONS)
    assert all(row["value"] > 0 for row in result["rows"])
    # Every group has exactly one baseline; the others carry a ratio to it.
    for name in benchmarks:
        group = [row for row in result["rows"] if row["benchmark"] == name]
        assert sum(row["ratio"] is None for row in group) == 1
    table = (tmp_path / "benchmark.md").read_text()
    assert "| benchmark | contender |" in table and "python -m benchmarks --tiny" in table
    assert "Wrote" in capsys.readouterr().out
