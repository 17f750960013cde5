"""An ipywidgets panel to train one run: pick the settings, press Train, watch, press Stop.

    panel = TrainingPanel("test4_tiny_ln")     # controls start at that experiment's settings
    panel                                      # shows the panel in a notebook
    run = panel.train(wait=True)               # what the Train button does, then wait

Training runs in a background thread, so the notebook stays responsive while it trains and
the Stop button can set the `threading.Event` that `engine.train` checks before every step.
The live plot is an `ipywidgets.Image` redrawn after every epoch. Runs go through
`run_experiment`, so a run with the same settings is loaded instead of retrained (the status
line says so; tick "retrain" to train it again), and a stopped one is resumed by pressing
Train again. Works with ipywidgets 7 (Colab) and 8: no 8-only API is used.
"""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path
from typing import Any

import ipywidgets as W
from matplotlib.figure import Figure

from .data import AUGMENTS
from .engine import OPTIMIZERS, History
from .experiments import (
    NORMS,
    QUICK,
    STEMS,
    Run,
    RunConfig,
    RunSettings,
    get_experiment,
    run_experiment,
)
from .models import list_models
from .utils import quick_mode

MODELS = [m.removeprefix("convnextv2_") for m in list_models()[:6]]  # atto ... base
NORM_LABELS = {"ln": "LayerNorm", "dyt": "Dynamic Tanh"}
_STYLE = {"description_width": "90px"}


def history_figure(history: History | None, title: str = "") -> Figure:
    """Training loss and validation accuracy so far (empty axes before the first epoch)."""
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    if history is not None and history.epochs:
        epochs = range(1, history.epochs + 1)
        ax_loss.plot(epochs, history.train_loss, "o-", color="C0")
        ax_acc.plot(epochs, [100 * a for a in history.val_acc], "o-", color="C1")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="training loss")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


class _ThreadStdout:
    """sys.stdout stand-in: writes from one thread go to `sink`, all others pass through."""

    def __init__(self, thread_id: int, sink, original):
        self.thread_id, self.sink, self.original = thread_id, sink, original

    def write(self, text: str) -> int:
        if threading.get_ident() == self.thread_id:
            if text.strip():
                self.sink(text)
            return len(text)
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class TrainingPanel:
    """Model, norm, stem, optimizer, lr, epochs and augmentation controls, Train and Stop
    buttons, a status line, a live loss/accuracy plot and a log.

    experiment: the settings the controls start from (an EXPERIMENTS name or a RunConfig).
    quick/dataset/runs_dir: passed to `run_experiment` (quick None follows CONVNEXT_NB_QUICK).
    """

    def __init__(
        self,
        experiment: str | RunConfig = "test4_tiny_ln",
        quick: bool | None = None,
        dataset: str | None = None,
        runs_dir: str | Path = "runs",
    ):
        base = experiment if isinstance(experiment, RunConfig) else None
        self.base = base or get_experiment(experiment).runs[0]
        self.quick = quick_mode() if quick is None else quick
        self.dataset, self.runs_dir = dataset, Path(runs_dir)
        self.run: Run | None = None
        self.history: History | None = None
        self.error: BaseException | None = None
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self._build()

    # -- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        b = self.base
        drop = lambda desc, options, value: W.Dropdown(  # noqa: E731
            description=desc, options=options, value=value, style=_STYLE
        )
        self.model = drop("model", MODELS, b.model.removeprefix("convnextv2_"))
        self.norm = drop("norm", [(NORM_LABELS.get(n, n), n) for n in NORMS], b.norm)
        self.stem = drop("stem", list(STEMS), b.stem)
        self.optimizer = drop("optimizer", list(OPTIMIZERS), b.optimizer)
        self.augment = drop("augment", list(AUGMENTS), b.augment)
        self.lr = W.FloatLogSlider(value=b.lr, base=10, min=-5, max=-1, step=0.25,
                                   description="lr", readout_format=".0e",
                                   style=_STYLE)  # fmt: skip
        self.epochs = self._epochs_slider(b.epochs)
        self.retrain = W.Checkbox(value=False, description="retrain (replace a saved run)",
                                  indent=False)  # fmt: skip
        self.train_button = W.Button(description="Train", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop",
                                    disabled=True)  # fmt: skip
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())
        mode = "quick mode (a few steps on offline data)" if self.quick else "full training"
        self.status = W.HTML(f"<b>Ready</b>: {mode}. Pick settings and press Train.")
        self.plot = W.Image(value=_png(history_figure(None)), format="png",
                            layout=W.Layout(width="640px"))  # fmt: skip
        self.log = W.Output(layout=W.Layout(max_height="160px", overflow="auto",
                                            border="1px solid #ddd"))  # fmt: skip
        left = W.VBox([self.model, self.norm, self.stem, self.augment])
        right = W.VBox([self.optimizer, self.lr, self.epochs, self.retrain,
                        W.HBox([self.train_button, self.stop_button])])  # fmt: skip
        self.widget = W.VBox([W.HBox([left, right]), self.status, self.plot, self.log])
        self.widget.add_class("convnext-nb-panel")

    def _epochs_slider(self, epochs: int) -> W.IntSlider:
        """The epochs that will really run: quick mode caps them, and says so."""
        if not self.quick:
            return W.IntSlider(value=epochs, min=1, max=100, description="epochs", style=_STYLE)
        cap = QUICK.max_epochs
        return W.IntSlider(value=min(epochs, cap), min=1, max=cap,
                           description=f"epochs (quick: at most {cap})",
                           style={"description_width": "initial"})  # fmt: skip

    def _ipython_display_(self) -> None:  # ipywidgets 7 and 8 alike
        from IPython.display import display

        display(self.widget)

    # -- settings -------------------------------------------------------------------------

    def config(self) -> RunConfig:
        """The RunConfig the controls describe (the starting config's name if unchanged)."""
        values = {
            "model": f"convnextv2_{self.model.value}", "norm": self.norm.value,
            "stem": self.stem.value, "optimizer": self.optimizer.value,
            "lr": float(f"{self.lr.value:.3g}"), "epochs": int(self.epochs.value),
            "augment": self.augment.value,
        }  # fmt: skip
        if self.quick and values["epochs"] == min(self.base.epochs, QUICK.max_epochs):
            values["epochs"] = self.base.epochs  # the slider shows quick mode's cap of it
        changes = {k: v for k, v in values.items() if getattr(self.base, k) != v}
        return self.base.replace(**changes) if changes else self.base

    def settings(self, config: RunConfig | None = None) -> RunSettings:
        """What `run_experiment` will run the config with (quick mode's cuts applied)."""
        return RunSettings.for_run(config or self.config(), quick=self.quick, dataset=self.dataset)

    # -- training -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def train(self, wait: bool = False) -> Run | None:
        """Start training the current settings in a background thread (the Train button).

        A run saved with these settings is loaded instead (the status line says so), unless
        "retrain" is ticked. wait=True blocks until it ends and prints the log in the cell
        (headless use); returns the Run then (also in `panel.run`).
        """
        if self.running:
            self._say("Already training: press Stop first.")
            return None
        self.run, self.history, self.error = None, None, None
        self.log.clear_output()
        try:  # a bad setting is shown at once, before any thread starts
            config = self.config()
            settings = self.settings(config)
        except ValueError as err:
            self._fail(err)
            if wait:
                raise
            return None
        self.stop_event.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        verb = "Retraining" if self.retrain.value else "Training (or loading)"
        self.status.value = f"<b>{verb}</b> {config.name} ..."
        args = (config, settings, self.retrain.value, not wait)
        self.thread = threading.Thread(target=self._worker, args=args, daemon=True)
        self.thread.start()
        if wait:
            self.thread.join()
            if self.error is not None:
                raise self.error
            return self.run
        return None

    def stop(self) -> None:
        """Ask the training thread to stop before its next step (the Stop button)."""
        if self.running:
            self.stop_event.set()
            self.status.value = "<b>Stopping</b> before the next step ..."
        else:
            self._say("Nothing to stop: no run is training.")

    def wait(self, timeout: float | None = None) -> Run | None:
        """Block until the training thread ends (or timeout); return the Run."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.run

    def _worker(self, config: RunConfig, settings: RunSettings, force: bool,
                route_output: bool) -> None:  # fmt: skip
        original = sys.stdout
        if route_output:  # prints of this thread go to the panel's log, not a random cell
            sys.stdout = _ThreadStdout(threading.get_ident(), self._say, original)
        try:
            [self.run] = run_experiment(
                config, settings=settings, runs_dir=self.runs_dir, force=force,
                stop_event=self.stop_event, callbacks=[self._on_epoch], progress=False,
                log=self._say if route_output else print,
            )  # fmt: skip
            self.history = self.run.history
            self._draw(self.history)
            self.status.value = self._status_line(self.run, loaded=self.run.model is None)
            if force and self.run.model is not None:
                self.retrain.value = False  # retrained: the next click loads it again
        except Exception as err:  # shown in the panel; re-raised by train(wait=True)
            self._fail(err)
        finally:
            if sys.stdout is not original and isinstance(sys.stdout, _ThreadStdout):
                sys.stdout = original
            self.train_button.disabled, self.stop_button.disabled = False, True

    def _fail(self, err: BaseException) -> None:
        self.error = err
        self.status.value = f"<b style='color:#b00'>Error</b>: {err}"

    def _on_epoch(self, history: History) -> None:
        self.history = history
        self._draw(history)
        self.status.value = (
            f"<b>Training</b>: epoch {history.epochs}, loss {history.train_loss[-1]:.4f}, "
            f"val acc {100 * history.val_acc[-1]:.2f} %"
        )

    def _draw(self, history: History) -> None:
        self.plot.value = _png(history_figure(history, self._title()))

    def _title(self) -> str:
        cfg = self.config()
        data = self.dataset or ("quick-mode data" if self.quick else "cifar100")
        return f"{cfg.label} ({cfg.model}, {cfg.norm}, {cfg.stem} stem, {cfg.optimizer}) - {data}"

    def _status_line(self, run: Run, loaded: bool = False) -> str:
        h = run.history
        best = f"best val acc {100 * h.best_val_acc:.2f} % at epoch {h.best_epoch}"
        data = f"{run.dataset}{' (quick mode)' if run.settings.quick else ''}"
        if loaded:
            return (
                f"<b>Loaded the saved run</b> ({h.status}, {h.epochs} epochs, {best}; {data}) "
                f"from {run.path}. Tick 'retrain' and press Train to train it again."
            )
        return (
            f"<b>{h.status.capitalize()}</b>: {h.epochs} epochs, {best}; {data}; saved in "
            f"{run.path}"
        )

    def _say(self, text: str) -> None:
        self.log.append_stdout(text if text.endswith("\n") else text + "\n")

    def figure(self) -> Figure:
        """A static copy of the live plot (for the saved notebook and for save_fig)."""
        return history_figure(self.history, self._title())
