"""Tests for convnext_nb.engine: optimizers, check_accuracy, and every way `train` can end."""

from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from convnext_nb import (
    GRN,
    OPTIMIZERS,
    DynamicTanh,
    History,
    LayerNorm,
    check_accuracy,
    create_model,
    load_checkpoint,
    make_optimizer,
    train,
)
from convnext_nb.engine import (
    COMPILE_MIN_STEPS,
    CompiledModel,
    TrainConfig,
    compile_mode,
    make_scheduler,
    train_one_epoch,
)
from convnext_nb.optim import use_fused

NUM_CLASSES = 4


class TinyNet(nn.Module):
    """conv -> LayerNorm -> GELU -> GRN -> pool -> dropout -> linear; (N, 3, 8, 8) -> (N, 4)."""

    def __init__(self, p_drop: float = 0.2):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = LayerNorm(8, data_format="channels_first")
        self.grn = GRN(8)
        self.drop = nn.Dropout(p_drop)
        self.fc = nn.Linear(8, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.norm(self.conv(x)))
        x = self.grn(x.permute(0, 2, 3, 1)).mean(dim=(1, 2))  # NHWC, pooled: (N, 8)
        return self.fc(self.drop(x))


def make_data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random images whose class is set by the signs of two channel means (learnable)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, 8, 8, generator=g)
    y = (X[:, 0].mean(dim=(1, 2)) > 0).long() + 2 * (X[:, 1].mean(dim=(1, 2)) > 0).long()
    return X, y


class SeededLoader:
    """A tiny in-memory loader with the data contract: len, set_epoch, seeded shuffle + noise."""

    def __init__(self, X, y, batch_size: int = 16, seed: int = 0, soft: bool = False):
        self.X, self.y, self.batch_size, self.seed, self.soft = X, y, batch_size, seed, soft
        self.epoch = 0
        self.num_classes = NUM_CLASSES

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self):
        g = torch.Generator().manual_seed(1000 * self.seed + self.epoch)
        perm = torch.randperm(len(self.X), generator=g)
        for i in range(0, len(self.X), self.batch_size):
            idx = perm[i : i + self.batch_size]
            X = self.X[idx] + 0.05 * torch.randn(self.X[idx].shape, generator=g)  # "augment"
            y = self.y[idx]
            if self.soft:  # Mixup-like soft targets: 0.7 own class + 0.3 the next one
                y = 0.7 * F.one_hot(y, NUM_CLASSES) + 0.3 * F.one_hot((y + 1) % 4, NUM_CLASSES)
            yield X, y


def loaders(seed: int = 0, soft: bool = False):
    X, y = make_data(64, seed=0)
    Xv, yv = make_data(32, seed=1)
    return SeededLoader(X, y, seed=seed, soft=soft), SeededLoader(Xv, yv, batch_size=32)


def fresh(init_seed: int = 0, p_drop: float = 0.2, lr: float = 1e-2):
    torch.manual_seed(init_seed)
    model = TinyNet(p_drop)
    return model, make_optimizer("adamw", model, lr=lr)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def same_run(h1: History, h2: History) -> bool:
    keys = ("train_loss", "val_acc", "lr", "best_epoch", "best_val_acc", "status")
    return all(getattr(h1, k) == getattr(h2, k) for k in keys)


QUIET = dict(progress=False, device="cpu")  # exact numbers: CPU, also on a GPU machine


# ---------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize("norm", ["ln", "dyt"])
def test_make_optimizer_no_decay_on_norms_biases_grn(norm):
    model = create_model("convnextv2_atto", num_classes=10, norm=norm)
    opt = make_optimizer("adamw", model, decay_params="weights")
    groups = {g["name"]: g for g in opt.param_groups}
    torch_default = torch.optim.AdamW(model.parameters()).defaults["weight_decay"]
    assert groups["decay"]["weight_decay"] == torch_default == 0.01
    assert groups["no_decay"]["weight_decay"] == 0.0
    no_decay = {id(p) for p in groups["no_decay"]["params"]}
    decay = {id(p) for p in groups["decay"]["params"]}
    assert len(no_decay) + len(decay) == len(list(model.parameters()))
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, (GRN, LayerNorm, DynamicTanh)) or p.ndim <= 1:
                assert id(p) in no_decay, (type(module).__name__, name, tuple(p.shape))
            else:  # conv and linear weights
                assert id(p) in decay, (type(module).__name__, name)
    grn = next(m for m in model.modules() if isinstance(m, GRN))
    assert grn.gamma.ndim == 4 and id(grn.gamma) in no_decay and id(grn.beta) in no_decay


def test_make_optimizer_kinds_and_defaults():
    model = TinyNet()
    sgd = make_optimizer("sgd_nesterov", model, lr=0.1)
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.9
    assert sgd.param_groups[0]["lr"] == 0.1
    assert not make_optimizer("sgd", model).defaults["nesterov"]
    radam = make_optimizer("RAdam", model)
    assert isinstance(radam, torch.optim.RAdam)
    assert radam.defaults["betas"] == (0.9, 0.999) and radam.defaults["eps"] == 1e-8
    assert isinstance(make_optimizer("adam", model), torch.optim.Adam)
    adamw = make_optimizer("adamw", model, weight_decay=0.3, betas=(0.8, 0.9))
    assert adamw.param_groups[0]["weight_decay"] == 0.3 and adamw.defaults["betas"] == (0.8, 0.9)
    assert set(OPTIMIZERS) == {"sgd_nesterov", "radam", "adamw", "sgd", "adam"}


def test_make_optimizer_defaults_are_pytorchs_own():
    model = TinyNet()
    for name, cls in [("adamw", torch.optim.AdamW), ("radam", torch.optim.RAdam),
                      ("sgd", torch.optim.SGD), ("adam", torch.optim.Adam)]:  # fmt: skip
        opt = make_optimizer(name, model)
        assert len(opt.param_groups) == 1  # decay_params="all": one group, as the report's code
        expected = cls(model.parameters(), lr=1e-3).defaults["weight_decay"]
        assert opt.param_groups[0]["weight_decay"] == expected
    assert make_optimizer("adamw", model).param_groups[0]["weight_decay"] == 0.01


def test_make_optimizer_errors():
    model = TinyNet()
    with pytest.raises(ValueError, match="sgd_nesterov, radam, adamw"):
        make_optimizer("lion", model)
    opt = make_optimizer("adamw", model, lr=np.float32(1e-3))  # a NumPy number is a number
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3) and type(opt.defaults["lr"]) is float
    for lr in (0, -1e-3, float("nan"), float("inf"), "1e-3", True):
        with pytest.raises(ValueError, match="lr must be a positive"):
            make_optimizer("adamw", model, lr=lr)
    with pytest.raises(ValueError, match="weight_decay"):
        make_optimizer("adamw", model, weight_decay=-0.1)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        make_optimizer("sgd", model)


# ---------------------------------------------------------------------------- check_accuracy


class PickClass(nn.Module):
    """Predicts the class stored in pixel (0, 0, 0) of each image; counts train-mode calls."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return F.one_hot(x[:, 0, 0, 0].long(), NUM_CLASSES).float() + 0 * self.dummy


def test_check_accuracy_value_line_and_mode(capsys):
    y = torch.arange(20) % NUM_CLASSES
    pred = y.clone()
    pred[7:] = (y[7:] + 1) % NUM_CLASSES  # exactly 7 of 20 right
    X = torch.zeros(20, 3, 2, 2)
    X[:, 0, 0, 0] = pred.float()
    loader = DataLoader(TensorDataset(X, y), batch_size=6)  # uneven last batch
    model = PickClass().train()
    acc = check_accuracy(loader, model)
    assert acc == pytest.approx(0.35)
    assert capsys.readouterr().out.strip() == "Got 7 / 20 correct (35.00)"
    assert model.training  # mode restored
    model.eval()
    assert check_accuracy(loader, model, device="cpu", verbose=False) == pytest.approx(0.35)
    assert not model.training and capsys.readouterr().out == ""
    soft = DataLoader(TensorDataset(X, F.one_hot(y, NUM_CLASSES).float()), batch_size=6)
    assert check_accuracy(soft, model, verbose=False) == pytest.approx(0.35)
    with pytest.raises(ValueError, match="no batches"):
        check_accuracy([], model)


# ---------------------------------------------------------------------------- reproducibility


def test_same_seed_gives_same_history_and_weights(capsys):
    runs = []
    for _ in range(2):
        model, opt = fresh()
        h = train(model, opt, *loaders(), epochs=2, lr_schedule="cosine", seed=7, **QUIET)
        runs.append((model, h))
    (m1, h1), (m2, h2) = runs
    assert h1.status == "completed" and h1.epochs == 2 and h1.steps == 8
    assert same_run(h1, h2) and same_weights(m1, m2)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch")]
    assert len(lines) == 4 and lines[0].startswith("Epoch 1, loss = ")
    assert " / 32 correct (" in lines[0]
    model, opt = fresh()
    h3 = train(model, opt, *loaders(), epochs=2, lr_schedule="cosine", seed=8, **QUIET)
    assert h3.train_loss != h1.train_loss  # the seed really drives dropout and noise


def test_seed_makes_plain_dataloader_shuffle_repeatable():
    X, y = make_data(64)
    results = []
    for _ in range(2):
        model, opt = fresh()
        dl = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
        results.append(train(model, opt, dl, dl, epochs=2, seed=3, **QUIET).train_loss)
    assert results[0] == results[1]


@pytest.mark.parametrize("seed", [0, None])
def test_resume_equals_uninterrupted_run(tmp_path, seed):
    kw = dict(epochs=3, lr_schedule="cosine", warmup_epochs=1, seed=seed, **QUIET)
    torch.manual_seed(123)  # the RNG stream for seed=None
    model_a, opt_a = fresh()
    torch.manual_seed(123)
    h_a = train(model_a, opt_a, *loaders(), checkpoint_dir=tmp_path / "a", **kw)

    model_b, opt_b = fresh()
    torch.manual_seed(123)
    h_b1 = train(
        model_b, opt_b, *loaders(), checkpoint_dir=tmp_path / "b", callbacks=[lambda h: True], **kw
    )
    assert h_b1.status == "stopped" and h_b1.epochs == 1
    assert "resume=True" in h_b1.message

    model_c, opt_c = fresh(init_seed=99)  # different start: everything must come from last.pt
    torch.manual_seed(555)  # a different RNG stream: it must come from last.pt too
    h_c = train(model_c, opt_c, *loaders(), checkpoint_dir=tmp_path / "b", resume=True, **kw)
    assert h_c.status == "completed" and h_c.epochs == 3
    assert same_run(h_a, h_c)
    assert same_weights(model_a, model_c)
    assert opt_c.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"] == 1e-2  # restored


def test_resume_with_explicit_path_and_missing_files(tmp_path, capsys):
    model, opt = fresh()
    train(model, opt, *loaders(), epochs=1, checkpoint_dir=tmp_path, **QUIET)
    model2, opt2 = fresh(init_seed=5)
    h = train(model2, opt2, *loaders(), epochs=1, resume=tmp_path / "last.pt", **QUIET)
    assert h.epochs == 1 and h.status == "completed" and same_weights(model, model2)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        train(model2, opt2, *loaders(), resume=tmp_path / "nope.pt", **QUIET)
    capsys.readouterr()
    h = train(*fresh(), *loaders(), checkpoint_dir=tmp_path / "new", resume=True, **QUIET)
    assert "starting from scratch" in capsys.readouterr().out and h.epochs == 1


# ---------------------------------------------------------------------------- ways to stop


class NaNAfter(TinyNet):
    """Emits NaN logits from the `after`-th training forward pass on."""

    def __init__(self, after: int):
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, x):
        out = super().forward(x)
        if self.training:
            self.calls += 1
            if self.calls > self.after:
                out = out * float("nan")
        return out


def test_nan_guard_stops_with_clear_message(tmp_path, capsys):
    torch.manual_seed(0)
    model = NaNAfter(after=5)  # 4 steps per epoch: step 2 of epoch 2 is the 6th
    opt = make_optimizer("adamw", model, lr=1e-2)
    h = train(model, opt, *loaders(), epochs=4, checkpoint_dir=tmp_path, **QUIET)
    assert h.status == "diverged" and h.epochs == 1 and len(h.val_acc) == 1
    assert h.steps == 4 + 1  # the NaN step is not taken
    assert "epoch 2 at step 2 of 4" in h.message and "lower learning rate" in h.message
    assert "grad_clip" in h.message and "nan" in h.message.lower()
    assert h.message in capsys.readouterr().out
    assert all(torch.isfinite(p).all() for p in model.parameters())  # NaN never reached them
    assert History.load(tmp_path / "history.json").status == "diverged"


def test_deferred_nan_check_names_the_first_bad_step():
    """The GPU path (loss read every few steps, no sync per step), run here on the CPU."""
    torch.manual_seed(0)
    model = NaNAfter(after=5)
    opt = make_optimizer("adamw", model, lr=1e-2)
    X, y = make_data(16 * 9)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    config = TrainConfig(device="cpu", sync_every=4)
    result = train_one_epoch(model, opt, loader, config, steps=9)
    assert result.bad_step == 5 and result.bad_loss is None  # the 6th step, found at the 8th
    model = NaNAfter(after=100)
    result = train_one_epoch(model, make_optimizer("sgd", model), loader, config, steps=9)
    assert result.bad_step is None and math.isfinite(result.mean_loss)


def test_huge_lr_diverges():
    model, _ = fresh(p_drop=0.0)
    opt = make_optimizer("sgd", model, lr=1e8)
    h = train(model, opt, *loaders(), epochs=5, **QUIET)
    assert h.status == "diverged" and h.epochs < 5


def test_keyboard_interrupt_from_callback_keeps_history_and_best(tmp_path):
    model, opt = fresh()
    best_weights = {}

    def interrupt_after_two(h: History):
        if h.best_epoch == h.epochs:
            best_weights.update(weights(model))
        if h.epochs == 2:
            raise KeyboardInterrupt

    h = train(
        model, opt, *loaders(), epochs=5, checkpoint_dir=tmp_path, callbacks=[interrupt_after_two],
        **QUIET,
    )  # fmt: skip
    assert h.status == "interrupted" and h.epochs == 2
    assert h.best_checkpoint == str(tmp_path / "best.pt") and h.best_checkpoint in h.message
    other = TinyNet()
    h.load_best(other)
    assert all(torch.equal(other.state_dict()[k], v) for k, v in best_weights.items())
    assert History.load(tmp_path / "history.json").status == "interrupted"


class InterruptingLoader(SeededLoader):
    """Raises KeyboardInterrupt at batch `at` of epoch `epoch` (as Ctrl-C would)."""

    def __init__(self, *args, epoch: int, at: int, event: threading.Event | None = None, **kw):
        super().__init__(*args, **kw)
        self.stop_epoch, self.at, self.event = epoch, at, event

    def __iter__(self):
        for i, batch in enumerate(super().__iter__()):
            if self.epoch == self.stop_epoch and i == self.at:
                if self.event is None:
                    raise KeyboardInterrupt
                self.event.set()  # like a Stop button pressed during this batch
            yield batch


def test_keyboard_interrupt_mid_epoch_keeps_trained_weights(capsys):
    model, opt = fresh()
    before = weights(model)
    train_loader, val_loader = loaders()
    loader = InterruptingLoader(train_loader.X, train_loader.y, epoch=1, at=2)
    h = train(model, opt, loader, val_loader, epochs=3, **QUIET)
    assert h.status == "interrupted" and h.epochs == 1 and "epoch 2" in h.message
    assert "Interrupted" in capsys.readouterr().out
    assert not same_weights(model, TinyNet()) and any(
        not torch.equal(v, before[k]) for k, v in model.state_dict().items()
    )  # the model kept what it learned


def test_stop_event_mid_epoch_and_before_start():
    model, opt = fresh()
    train_loader, val_loader = loaders()
    event = threading.Event()
    loader = InterruptingLoader(train_loader.X, train_loader.y, epoch=1, at=2, event=event)
    h = train(model, opt, loader, val_loader, epochs=3, stop_event=event, **QUIET)
    # the event is set while batch 3 of epoch 2 is produced; that step does not run
    assert h.status == "stopped" and h.epochs == 1 and "epoch 2 before step 3" in h.message
    assert h.steps == 4 + 2
    h = train(model, opt, *loaders(), epochs=3, stop_event=event, **QUIET)
    assert h.status == "stopped" and h.epochs == 0


def test_stop_event_from_another_thread():
    """The notebook pattern: train in a thread, a Stop button sets the event."""
    model, opt = fresh()
    stop, first_epoch_done, out = threading.Event(), threading.Event(), {}

    def run():
        out["h"] = train(
            model, opt, *loaders(), epochs=10_000, stop_event=stop,
            callbacks=[lambda h: first_epoch_done.set()], **QUIET,
        )  # fmt: skip

    worker = threading.Thread(target=run)
    worker.start()
    assert first_epoch_done.wait(timeout=30)
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert out["h"].status == "stopped" and 1 <= out["h"].epochs < 10_000


# ---------------------------------------------------------------------------- files


def test_history_json_round_trip_and_repr(tmp_path):
    model, opt = fresh()
    h = train(model, opt, *loaders(), epochs=2, checkpoint_dir=tmp_path, **QUIET)
    path = h.save(tmp_path / "h" / "history.json")
    h2 = History.load(path)
    assert h2 == h and isinstance(h2.train_loss[0], float)
    assert History.load(tmp_path / "history.json") == h
    assert f"best val acc {100 * h.best_val_acc:.2f} %" in repr(h)
    assert "2 epochs, status: completed" in h.summary()
    assert "not started" in repr(History())


def test_checkpoints_load_with_weights_only(tmp_path):
    model, opt = fresh()
    h = train(model, opt, *loaders(), epochs=2, checkpoint_dir=tmp_path, **QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "history.json", "last.pt"]
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and last["history"]["val_acc"] == h.val_acc
    assert {"model", "optimizer", "scheduler", "rng", "config"} <= last.keys()
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == h.best_epoch and best["val_acc"] == h.best_val_acc
    model2, opt2 = fresh(init_seed=3)
    ckpt = load_checkpoint(tmp_path / "last.pt", model2, opt2)
    assert ckpt["epoch"] == 2 and same_weights(model, model2)
    with pytest.raises(ValueError, match="only model weights"):
        load_checkpoint(tmp_path / "best.pt", model2, opt2)
    with pytest.raises(FileNotFoundError, match="checkpoint_dir"):
        History().load_best(model2)


# ---------------------------------------------------------------------------- loss and schedule


def test_label_smoothing_with_soft_targets_gives_the_exact_loss():
    # lr so small that the weights do not move: the epoch loss is the loss of the start model
    train_loader, val_loader = loaders(soft=True)
    model, _ = fresh(p_drop=0.0)
    with torch.no_grad():
        model.fc.weight.mul_(100)  # confident logits, so that smoothing changes the loss
    opt = make_optimizer("sgd", model, lr=1e-30, weight_decay=0, momentum=0)

    def expected_loss(smoothing: float) -> float:
        total, n = 0.0, 0
        train_loader.set_epoch(0)
        with torch.no_grad():
            for X, y in train_loader:
                assert y.shape == (len(X), NUM_CLASSES) and y.dtype == torch.float32
                total += F.cross_entropy(model(X), y, label_smoothing=smoothing).item() * len(X)
                n += len(X)
        return total / n

    smoothed, plain = expected_loss(0.1), expected_loss(0.0)
    assert abs(smoothed - plain) > 1e-2
    h = train(model, opt, train_loader, val_loader, epochs=1, label_smoothing=0.1, **QUIET)
    assert h.status == "completed" and h.train_loss[0] == pytest.approx(smoothed, rel=1e-5)
    h = train(model, opt, train_loader, val_loader, epochs=1, **QUIET)
    assert h.train_loss[0] == pytest.approx(plain, rel=1e-5)


def test_cosine_schedule_with_warmup_values():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, "cosine", total_steps=10, warmup_steps=2)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [1 / 3, 2 / 3] + [0.5 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    assert lrs == pytest.approx(expected, abs=1e-9)
    assert make_scheduler(opt, "constant", total_steps=10) is None


def test_train_records_scheduled_lr_per_epoch():
    model, opt = fresh()
    h = train(model, opt, *loaders(), epochs=3, lr_schedule="cosine", warmup_epochs=1, **QUIET)
    base = 1e-2  # 4 steps per epoch: epochs start at steps 0 (warmup), 4 (peak), 8 (mid-cosine)
    assert h.lr == pytest.approx([base / 5, base, base * 0.5 * (1 + math.cos(math.pi / 2))])
    assert opt.param_groups[0]["lr"] == base  # the optimizer's lr is left as found
    h = train(model, opt, *loaders(), epochs=2, max_steps_per_epoch=2, **QUIET)
    assert h.lr == [base, base]


def test_train_rejects_bad_arguments(tmp_path):
    model, opt = fresh()
    tl, vl = loaders()
    bad = [
        (dict(epochs=0), "epochs"),
        (dict(lr_schedule="linear"), "lr_schedule"),
        (dict(lr_schedule="cosine", epochs=2, warmup_epochs=2), "warmup_epochs"),
        (dict(amp="int8"), "amp"),
        (dict(label_smoothing=1.0), "label_smoothing"),
        (dict(grad_clip=0), "grad_clip"),
        (dict(resume=True), "checkpoint_dir"),
    ]
    for kwargs, match in bad:
        with pytest.raises(ValueError, match=match):
            train(model, opt, tl, vl, **kwargs, **QUIET)
    with pytest.raises(ValueError, match="val_loader"):
        train(model, opt, tl, None, **QUIET)
    with pytest.raises(ValueError, match="max_steps_per_epoch"):
        train(model, opt, iter(tl), vl, **QUIET)


def test_convnextv2_atto_trains_with_every_option(tmp_path):
    torch.manual_seed(0)
    model = create_model("convnextv2_atto", num_classes=10, stem="patchify", drop_path_rate=0.1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(16, 3, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)
    dl = DataLoader(TensorDataset(X, y), batch_size=8)
    opt = make_optimizer("radam", model, lr=1e-3)
    h = train(
        model, opt, dl, dl, epochs=2, amp=True, channels_last=True, grad_clip=1.0,
        label_smoothing=0.1, lr_schedule="cosine", warmup_epochs=0.5, seed=0,
        checkpoint_dir=tmp_path, progress=True,
    )  # fmt: skip
    assert h.status == "completed" and all(math.isfinite(v) for v in h.train_loss)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 2


def test_fp16_autocast_uses_a_grad_scaler():
    model, opt = fresh()
    h = train(model, opt, *loaders(), epochs=2, amp="fp16", grad_clip=1.0, **QUIET)
    assert h.status == "completed" and all(math.isfinite(v) for v in h.train_loss)
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in model.parameters())


# ---------------------------------------------------------------------------- the config object


def test_train_takes_a_config_object_or_keywords():
    runs = []
    for how in ("keywords", "config", "config+override"):
        model, opt = fresh()
        if how == "keywords":
            h = train(model, opt, *loaders(), epochs=2, lr_schedule="cosine", seed=7, **QUIET)
        elif how == "config":
            config = TrainConfig(lr_schedule="cosine", seed=7, progress=False, device="cpu")
            h = train(model, opt, *loaders(), epochs=2, config=config)
        else:
            config = TrainConfig(lr_schedule="cosine", seed=1, progress=False, device="cpu")
            h = train(model, opt, *loaders(), epochs=2, config=config, seed=7)
        runs.append((model, h))
    for model, h in runs[1:]:
        assert same_run(runs[0][1], h) and same_weights(runs[0][0], model)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3
    with pytest.raises(TypeError, match="unknown training option.*lr_shedule"):
        train(*fresh(), *loaders(), lr_shedule="cosine")


def test_config_rejects_bad_values_before_training():
    for kwargs, match in [
        (dict(grad_clip=float("nan")), "grad_clip"),
        (dict(label_smoothing=float("nan")), "label_smoothing"),
        (dict(warmup_epochs=-1), "warmup_epochs"),
        (dict(max_steps_per_epoch=0), "max_steps_per_epoch"),
        (dict(lr_schedule="step"), "lr_schedule"),
        (dict(resume=True), "checkpoint_dir"),
    ]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**kwargs)
    cfg = TrainConfig().resolved(torch.device("cpu"))
    assert cfg.device == torch.device("cpu") and cfg.amp is False and cfg.compile is False
    assert cfg.channels_last is True and cfg.sync_every == 1
    assert TrainConfig(amp=torch.bfloat16).resolved(torch.device("cpu")).amp == torch.bfloat16


# ---------------------------------------------------------------------------- compile and fused


class CompileFailure(RuntimeError):
    """What inductor raises where it cannot build kernels (no C++ compiler, no Triton)."""


CompileFailure.__module__ = "torch._inductor.exc"


def test_compile_falls_back_to_eager_with_one_line(monkeypatch, capsys):
    model, opt = fresh()
    eager = train(model, opt, *loaders(), epochs=2, seed=3, compile=False, **QUIET)

    def broken_compile(module, **kwargs):
        def run(x):
            raise CompileFailure("CppCompileError: C++ compiler not found")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    capsys.readouterr()
    model2, opt2 = fresh()
    h = train(model2, opt2, *loaders(), epochs=2, seed=3, compile=True, **QUIET)
    out = capsys.readouterr().out
    assert out.count("torch.compile failed") == 1 and "C++ compiler not found" in out
    assert h.status == "completed" and same_run(eager, h) and same_weights(model, model2)

    def unavailable(module, **kwargs):
        raise RuntimeError("torch.compile is not supported on Python 3.99")

    monkeypatch.setattr(torch, "compile", unavailable)
    h = train(*fresh(), *loaders(), epochs=1, compile=True, **QUIET)
    assert "torch.compile is not available here" in capsys.readouterr().out
    assert h.status == "completed"


def test_compiled_training_matches_eager(monkeypatch):
    """A real torch.compile (TorchDynamo graphs, AOTAutograd's backward) trains to eager's
    numbers. The aot_eager backend skips inductor's C++ build (about 40 s here, not 3 s)."""
    graphs = []
    aot_eager = torch._dynamo.lookup_backend("aot_eager")

    def backend(graph, example_inputs):
        graphs.append(graph)
        return aot_eager(graph, example_inputs)

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, **kw: real_compile(m, backend=backend, **kw))
    torch._dynamo.reset()  # no graphs cached by an earlier test
    model, opt = fresh(p_drop=0.0)
    eager = train(model, opt, *loaders(), epochs=2, seed=3, compile=False, **QUIET)
    model2, opt2 = fresh(p_drop=0.0)
    compiled = train(model2, opt2, *loaders(), epochs=2, seed=3, compile=True, **QUIET)
    torch._dynamo.reset()
    assert graphs, "train(compile=True) ran no compiled graph"
    assert compiled.status == "completed" and compiled.val_acc == eager.val_acc
    assert compiled.train_loss == pytest.approx(eager.train_loss, rel=1e-5)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(model2.state_dict()[k], v, rtol=1e-4, atol=1e-5)


def test_compiled_model_passes_other_errors_through(monkeypatch, capsys):
    monkeypatch.setattr(torch, "compile", lambda module, **kw: module)  # "compiled" = eager
    net = CompiledModel(TinyNet())
    assert [id(p) for p in net.parameters()] == [id(p) for p in net.model.parameters()]
    with pytest.raises(RuntimeError):  # 5 channels into a 3-channel conv: the user's error
        net(torch.randn(2, 5, 8, 8))
    assert "torch.compile" not in capsys.readouterr().out and net.compiled is not None


def test_fused_optimizer_matches_the_plain_one():
    """train switches Adam/AdamW/SGD to fused kernels on CUDA; the kernels exist on CPU too."""
    model_a, opt_a = fresh(p_drop=0.0)
    model_b, opt_b = fresh(p_drop=0.0)
    assert use_fused(opt_b) and all(g["fused"] for g in opt_b.param_groups)
    assert not use_fused(make_optimizer("radam", model_b))  # RAdam has no fused kernel
    X, y = make_data(32)
    for model, opt in ((model_a, opt_a), (model_b, opt_b)):
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(X), y).backward()
            opt.step()
    for (k, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), k


def test_compile_mode_is_cuda_graphs_on_one_gpu_for_long_runs(monkeypatch):
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert compile_mode(None, cuda) == compile_mode(True, cuda) == "reduce-overhead"
    assert compile_mode(None, cuda, steps=COMPILE_MIN_STEPS) == "reduce-overhead"
    assert compile_mode(None, cuda, steps=COMPILE_MIN_STEPS - 1) is False  # never pays back
    assert compile_mode(True, cuda, steps=10) == "reduce-overhead"  # asked for: on
    assert compile_mode(None, cpu) is compile_mode(None, torch.device("mps")) is False
    assert compile_mode(True, cpu) == "default" and compile_mode(False, cuda) is False
    assert compile_mode("max-autotune", cpu) == "max-autotune"
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun: DDP's hooks run between the graphs
    assert compile_mode(None, cuda) == "default"
    assert TrainConfig(compile="max-autotune").resolved(cpu).compile == "max-autotune"
    assert TrainConfig().resolved(cuda, steps=10).compile is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graphs_train_like_eager_on_the_gpu(monkeypatch):
    """Compiling on one GPU (fused AdamW, torch.compile replayed as CUDA graphs) learns what
    the same GPU learns eagerly, within bf16 rounding."""
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    runs = {}
    for mode in (True, False):
        model, opt = fresh(p_drop=0.0)
        runs[mode] = train(model, opt, *loaders(), epochs=2, device="cuda", seed=0,
                           compile=mode, progress=False)  # fmt: skip
        assert all(g["fused"] for g in opt.param_groups) and next(model.parameters()).is_cuda
    assert runs[True].status == runs[False].status == "completed"
    assert runs[True].train_loss == pytest.approx(runs[False].train_loss, rel=0.02)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_training_matches_fp32_on_the_cpu(tmp_path):
    """On a GPU, batches already on the device and bf16 autocast learn what fp32 learns on the
    CPU (within bf16's rounding); the checkpoints read back on the CPU."""
    X, y = make_data(64, seed=0)
    batches = [(X[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    on_gpu = [(Xb.cuda(), yb.cuda()) for Xb, yb in batches]
    model, opt = fresh(p_drop=0.0)
    h = train(model, opt, on_gpu, on_gpu, epochs=3, device="cuda", amp="bf16", seed=0,
              compile=False, checkpoint_dir=tmp_path, progress=False)  # fmt: skip
    cpu_model, cpu_opt = fresh(p_drop=0.0)
    cpu = train(cpu_model, cpu_opt, batches, batches, epochs=3, seed=0, amp=False, **QUIET)
    assert h.status == "completed" and next(model.parameters()).is_cuda
    assert h.train_loss == pytest.approx(cpu.train_loss, rel=0.05)
    assert load_checkpoint(tmp_path / "last.pt")["model"]["conv.weight"].device.type == "cpu"


# ---------------------------------------------------------------------------- clear errors


def test_nan_in_the_data_is_named_as_such():
    train_loader, val_loader = loaders()
    X = train_loader.X.clone()
    X[20, 1, 2, 3] = float("nan")  # one pixel; at batch index 1 or later (shuffled)
    model, opt = fresh()
    h = train(model, opt, SeededLoader(X, train_loader.y), val_loader, epochs=1, **QUIET)
    assert h.status == "diverged" and "data holds NaN" in h.message
    assert "Try a lower learning rate" not in h.message and "will not help" in h.message
    # the deferred (GPU) path finds it too, without a sync per step
    torch.manual_seed(0)
    model, opt = fresh()
    config = TrainConfig(device="cpu", sync_every=4)
    result = train_one_epoch(model, opt, SeededLoader(X, train_loader.y), config, steps=4)
    assert result.bad_step is not None and result.bad_input


def test_divergence_suggests_a_sane_lr():
    torch.manual_seed(0)
    model = NaNAfter(after=1)
    h = train(model, make_optimizer("sgd", model, lr=1e6), *loaders(), **QUIET)
    assert h.status == "diverged" and "lr=0.001" in h.message and "1e+05" not in h.message
    model = NaNAfter(after=1)
    h = train(model, make_optimizer("adamw", model, lr=1e-3), *loaders(), **QUIET)
    assert "lr=0.0001" in h.message  # lr / 10 when that is lower


def test_labels_out_of_range_name_both_numbers():
    model, opt = fresh()  # 4 classes
    X, y = make_data(16)
    y[3] = 58
    with pytest.raises(ValueError, match="label 58.*4 outputs"):
        train(model, opt, [(X, y)], [(X, y)], max_steps_per_epoch=1, **QUIET)
    soft = F.one_hot(y.clamp(max=3), 10).float()  # 10-class soft targets
    with pytest.raises(ValueError, match="10 classes but the model outputs 4"):
        train(model, opt, [(X, soft)], [(X, soft)], max_steps_per_epoch=1, **QUIET)
