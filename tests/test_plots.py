"""Plot helpers: files written, axes labelled, data stated, report stars only where comparable."""

from __future__ import annotations

import pytest
from experiment_fakes import fake_run

from convnext_nb.plots import data_label, plot_graph, plot_runs


def test_plot_runs_writes_a_labelled_figure(tmp_path):
    runs = [fake_run("AdamW", [0.2, 0.4, 0.5]), fake_run("RAdam", [0.1, 0.3, 0.35])]
    fig = plot_runs(runs, "Two optimizers", name="two", folder=tmp_path)
    assert (tmp_path / "two.png").stat().st_size > 10_000
    ax_loss, ax_acc = fig.axes
    assert ax_loss.get_xlabel() == "epoch" and ax_loss.get_ylabel() == "training loss"
    assert ax_acc.get_ylabel() == "validation accuracy (%)"
    assert [line.get_label() for line in ax_loss.lines] == ["AdamW", "RAdam"]
    assert ax_acc.lines[0].get_ydata()[-1] == pytest.approx(50.0)
    assert "best 50.0 % @ 3" in ax_acc.get_legend().get_texts()[0].get_text()
    title = fig._suptitle.get_text()
    assert "Two optimizers" in title and "Fashion-MNIST" in title and "quick mode" in title


def test_plot_runs_against_time_for_equal_time_comparisons(tmp_path):
    fast, slow = fake_run("fast", [0.2, 0.4, 0.5]), fake_run("slow", [0.3, 0.45])
    slow.history.epoch_time = [3.0, 2.5]
    fig = plot_runs([fast, slow], x="time")
    ax_loss, ax_acc = fig.axes
    assert ax_acc.get_xlabel() == "training time (s)"
    assert list(ax_acc.lines[0].get_xdata()) == [1.0, 2.0, 3.0]
    assert list(ax_acc.lines[1].get_xdata()) == [3.0, 5.5]
    with pytest.raises(ValueError, match="'epoch' or 'time'"):
        plot_runs([fast], x="steps")


def test_report_stars_only_for_full_cifar100_runs(tmp_path):
    quick = [fake_run("base", [0.3, 0.36], report_acc=35.7, report_epoch=21)]
    full = [fake_run("base", [0.3, 0.36], "cifar100", quick=False, report_acc=35.7,
                     report_epoch=21)]  # fmt: skip
    stars = lambda fig: [ln for ln in fig.axes[1].lines if ln.get_marker() == "*"]
    assert stars(plot_runs(quick)) == []
    [star] = stars(plot_runs(full))
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (21, 35.7)
    assert "CIFAR-100, full run" in data_label(full)


def test_plot_graph_checks_its_runs(tmp_path):
    runs = [fake_run("LN", [0.3, 0.4], name="test4_tiny_ln"),
            fake_run("DyT", [0.2, 0.35], name="test5_tiny_dyt")]  # fmt: skip
    fig = plot_graph("Graph 3", runs, folder=tmp_path)
    assert (tmp_path / "graph3_dyt_vs_ln_quick.png").exists()
    assert fig._suptitle.get_text().startswith("Graph 3: Dynamic Tanh vs LayerNorm")
    with pytest.raises(ValueError, match="draws the runs of 'test2_base_optimizers'"):
        plot_graph("graph1", runs, folder=tmp_path)
    with pytest.raises(ValueError, match="unknown graph"):
        plot_graph("graph4", runs)
    with pytest.raises(ValueError, match="no runs to plot"):
        plot_runs([])
