"""The benchmark suite runs end to end in its tiny configuration (a smoke test, not a timing),
and its derived numbers (work done, share of a GPU's peak) are computed right."""

import json

import pytest
import torch

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


def test_epoch_benchmark_reports_work_done_and_share_of_the_gpu_peak(monkeypatch):
    from benchmarks.epoch_bench import bf16_peak_tflops, train_flops_per_image
    from convnext_nb.experiments import IMPROVED
    from convnext_nb.models import count_macs, create_model

    model = create_model(IMPROVED.model, 100, stem=IMPROVED.stem)
    assert train_flops_per_image() == 6 * count_macs(model) == pytest.approx(0.27e9, rel=0.02)
    assert bf16_peak_tflops(torch.device("cpu")) is None
    cuda = torch.device("cuda", 0)
    peaks = {"NVIDIA H100 80GB HBM3": 989, "NVIDIA H100 NVL": 835, "NVIDIA H200": 989,
             "Tesla T4": 65, "NVIDIA GeForce RTX 4090": None}  # fmt: skip
    for name, peak in peaks.items():
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device, name=name: name)
        assert bf16_peak_tflops(cuda) == peak, name


def test_values_keep_three_significant_digits_below_100():
    from benchmarks.common import format_value

    assert [format_value(v) for v in (12_345.6, 100.4, 56.78, 0.031234)] == [
        "12,346", "100", "56.8", "0.0312"]  # fmt: skip
