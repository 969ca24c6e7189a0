"""Failure detection while training: the signs practitioners look for, as metrics and warnings.

Pure detectors take recent step metrics (or samples from a fixed latent batch) and return a
`Signal`: metrics to log and whether the sign fires.

* Convergence failure (D wins): over a window of W steps D classifies ~100% of both reals and
  fakes correctly (accuracy pinned), or the D loss sits within a margin of its lowest possible
  value while D rejects ~100% of fakes and the G loss climbs (positive least-squares slope).
  Goodfellow 2016 (NIPS tutorial, arXiv:1701.00160) and Arjovsky & Bottou 2017
  (arXiv:1701.04862): a perfect D gives G vanishing or exploding gradients.
* Mode collapse: the diversity of G(z) on a fixed latent batch, measured as the mean pairwise
  distance E‖G(z_i) − G(z_j)‖₂ divided by the same for real data, falls below a threshold
  (a collapsed G has ratio 0); for labelled data, the fraction of classes that a classifier finds
  among the samples (Salimans et al. 2016; Srivastava et al. 2017 count modes the same way).
* Healthy range: D's accuracy on real and fake, averaged over the window; roughly 70-80% is
  healthy (neither net is winning outright). Reported, never stops a run.
* Non-finite values: `non_finite_message` names the first offending quantity in the order the
  step computes them (D loss, penalty, D gradient, G loss, G gradient), else the first parameter
  leaf holding NaN/Inf.

`TrainingMonitor` holds the window and the thresholds (`MonitorConfig.from_config`), turns signals
into `Report`s (metrics for metrics.jsonl/TensorBoard, one warning line when a sign starts firing,
and a stop reason when the sign is listed in `stop_on`). Its window is not checkpointed: after a
resume the window signs resume once `window` new steps have been seen.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Sequence

import jax
import ml_collections
import numpy as np

from jaxgan.core.losses import GANLoss
from jaxgan.core.registry import Registry

Metrics = Mapping[str, Any]
SIGNS = ("convergence_failure", "mode_collapse")
HINTS = {
    "convergence_failure": "D is winning; try a lower d_lr (TTUR), instance noise, one-sided "
                           "label smoothing or spectral norm in D",
    "mode_collapse": "G covers little of the data; try a Wasserstein loss with gradient penalty, "
                     "DiffAugment or a lower g_lr",
}
WINDOW_KEYS = ("d_loss", "g_loss", "d_accuracy_real", "d_accuracy_fake")


@dataclasses.dataclass(frozen=True)
class Signal:
    """A detector's result: metrics to log and whether its sign fires (with a one-line reason)."""

    metrics: dict[str, float]
    fired: bool = False
    reason: str = ""


# --- convergence failure --------------------------------------------------------------------------

def binary_entropy(p: float) -> float:
    """H(p) = −p ln p − (1 − p) ln(1 − p), with 0 ln 0 = 0."""
    return float(sum(-q * math.log(q) for q in (p, 1.0 - p) if q > 0))


def _bce_floor(loss: GANLoss) -> float:
    # min over o of t·softplus(−o) + (1 − t)·softplus(o) is H(t); the fake term's minimum is 0.
    return binary_entropy(loss.real_target)


D_LOSS_FLOORS: Registry[Callable[[GANLoss], float | None]] = Registry("loss", {
    "minimax": _bce_floor,
    "non_saturating": _bce_floor,
    "relativistic": _bce_floor,
    "relativistic_average": _bce_floor,
    "hinge": lambda loss: 0.0,
    "least_squares": lambda loss: 0.0,
    "wasserstein": lambda loss: None,  # unbounded below: the D-loss criterion does not apply
})


def d_loss_floor(loss: GANLoss) -> float | None:
    """The lowest value D's loss can take (H(real_target) for BCE losses; None if unbounded)."""
    return D_LOSS_FLOORS[loss.name](loss)


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of values against their index (per step)."""
    y = np.asarray(values, np.float64)
    if y.size < 2:
        return 0.0
    t = np.arange(y.size, dtype=np.float64) - (y.size - 1) / 2.0
    return float(np.dot(t, y - y.mean()) / np.dot(t, t))


def convergence_failure(d_loss: Sequence[float], g_loss: Sequence[float],
                        d_accuracy_fake: Sequence[float], *, d_loss_floor: float | None,
                        d_loss_margin: float = 0.05, min_fake_accuracy: float = 0.99,
                        min_g_loss_slope: float = 0.0,
                        d_accuracy_real: Sequence[float] | None = None,
                        min_real_accuracy: float = 0.99) -> Signal:
    """Fires when D wins outright over the window given, by either of two signs:

    * D accuracy pinned: mean D accuracy on reals ≥ `min_real_accuracy` and on fakes
      ≥ `min_fake_accuracy` (when `d_accuracy_real` is given). A D that is right about every
      example for a whole window has stopped being a useful teacher, whatever its loss (a
      BatchNorm D that sees real and fake in separate batches gets there with a loss far above its
      floor: it tells the batches apart by their statistics).
    * D loss at its floor: mean D loss ≤ floor + margin, mean D accuracy on fakes
      ≥ `min_fake_accuracy` and the G loss's least-squares slope > `min_g_loss_slope`
      (the D-loss criterion is skipped when `d_loss_floor` is None: Wasserstein critic).
    """
    d_mean = float(np.mean(d_loss))
    fake_acc = float(np.mean(d_accuracy_fake))
    g_slope = slope(g_loss)
    d_low = d_loss_floor is None or d_mean <= d_loss_floor + d_loss_margin
    loss_sign = bool(d_low and fake_acc >= min_fake_accuracy and g_slope > min_g_loss_slope)
    real_acc = None if d_accuracy_real is None else float(np.mean(d_accuracy_real))
    pinned = bool(real_acc is not None and real_acc >= min_real_accuracy
                  and fake_acc >= min_fake_accuracy)
    floor = "none" if d_loss_floor is None else f"{d_loss_floor:.4f}"
    if pinned:
        reason = (f"D accuracy pinned: {real_acc:.1%} on reals and {fake_acc:.1%} on fakes "
                  f"(D loss {d_mean:.4f}) over the last {len(d_loss)} steps")
    else:
        reason = (f"D loss {d_mean:.4f} (lowest possible {floor}), "
                  f"D accuracy on fakes {fake_acc:.1%}, G loss rising {g_slope:+.2e}/step "
                  f"over the last {len(d_loss)} steps")
    fired = loss_sign or pinned
    return Signal({"convergence_failure": float(fired), "g_loss_slope": g_slope}, fired, reason)


def d_accuracy_report(d_accuracy_real: Sequence[float], d_accuracy_fake: Sequence[float],
                      healthy: tuple[float, float] = (0.7, 0.8)) -> Signal:
    """Mean D accuracy on real and fake over the window, and whether their mean is in `healthy`.

    Healthy is roughly 70-80% (a D that is right most of the time but not always). Never fires.
    """
    real, fake = float(np.mean(d_accuracy_real)), float(np.mean(d_accuracy_fake))
    both = 0.5 * (real + fake)
    in_range = healthy[0] <= both <= healthy[1]
    return Signal({"d_accuracy_real_avg": real, "d_accuracy_fake_avg": fake,
                   "d_accuracy_healthy": float(in_range)})


# --- mode collapse --------------------------------------------------------------------------------

def mean_pairwise_distance(x: np.ndarray) -> float:
    """(2 / (n(n−1))) Σ_{i<j} ‖x_i − x_j‖₂ over the rows of x (flattened), in float64."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    n = len(x)
    if n < 2:
        raise ValueError(f"pairwise distances need at least 2 samples, got {n}")
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    return float(np.sum(np.sqrt(d2[np.triu_indices(n, 1)])) / (n * (n - 1) / 2))


def mode_collapse(samples: np.ndarray, real_diversity: float,
                  min_diversity_ratio: float = 0.2) -> Signal:
    """Fires when mean_pairwise_distance(samples) / real_diversity < `min_diversity_ratio`.

    `samples`: G(z) on a fixed latent batch; `real_diversity`: the same statistic on as many real
    examples. A generator that puts every z on one point has ratio 0.
    """
    if real_diversity <= 0:
        raise ValueError(f"real data diversity must be > 0, got {real_diversity}")
    ratio = mean_pairwise_distance(samples) / real_diversity
    fired = bool(ratio < min_diversity_ratio)
    reason = (f"sample diversity is {ratio:.3f} of the real data's (threshold "
              f"{min_diversity_ratio}) on the fixed latent batch")
    return Signal({"diversity_ratio": ratio, "mode_collapse": float(fired)}, fired, reason)


def class_coverage(predicted: np.ndarray, num_classes: int,
                   min_fraction: float = 0.5) -> Signal:
    """Fires when the classes predicted for the samples cover < `min_fraction` of all classes."""
    covered = int(np.unique(np.asarray(predicted)).size)
    fired = bool(covered < min_fraction * num_classes)
    reason = f"samples cover {covered} of {num_classes} classes"
    return Signal({"classes_covered": float(covered), "mode_collapse": float(fired)}, fired,
                  reason)


# --- non-finite values ----------------------------------------------------------------------------

COMPUTATION_ORDER = ("d_loss", "penalty", "d_grad_norm", "g_loss", "g_grad_norm")
"""The step's scalars in the order it computes them (jaxgan.core.step)."""


def _is_finite(value) -> bool:
    if isinstance(value, (bool, int, float)):  # the loop's host metrics: the fast path
        return math.isfinite(value)
    return bool(np.all(np.isfinite(np.asarray(value, np.float64))))


def non_finite_metrics(metrics: Metrics) -> list[str]:
    """The metrics holding NaN/Inf: those of COMPUTATION_ORDER first, in that order, then the
    rest in the order given (`finite` itself is a flag, not a quantity)."""
    names = [k for k in COMPUTATION_ORDER if k in metrics]
    names += [k for k in metrics if k not in COMPUTATION_ORDER and k != "finite"]
    return [k for k in names if not _is_finite(metrics[k])]


def first_non_finite_metric(metrics: Metrics) -> str | None:
    """The first of `non_finite_metrics(metrics)`, or None."""
    return next(iter(non_finite_metrics(metrics)), None)


def first_non_finite_leaf(tree: Any, prefix: str = "") -> str | None:
    """The path (`prefix` + jax.tree_util.keystr) of the first leaf of `tree` with NaN/Inf."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not _is_finite(leaf):
            return prefix + jax.tree_util.keystr(path)
    return None


def first_non_finite_param(state) -> str | None:
    """The first non-finite parameter leaf of a GANState, D first (it is updated first)."""
    for name, tree in (("discriminator.params", state.discriminator.params),
                       ("generator.params", state.generator.params),
                       ("ema_params", state.ema_params)):
        found = first_non_finite_leaf(tree, name) if tree is not None else None
        if found is not None:
            return found
    return None


def non_finite_message(step: int, metrics: Metrics, state=None) -> str | None:
    """One line naming the first non-finite quantity of step `step`; None if there is none.

    The step's metrics are looked at in the order the step computes them; the step's `finite`
    flag is also False when only parameters are non-finite. With `state` (a GANState, which may
    be a step later: the loop reads metrics one step behind) the first parameter leaf holding
    NaN/Inf is named by its path, D's first (D is updated first).
    """
    bad = non_finite_metrics(metrics)
    flagged = "finite" in metrics and not bool(metrics["finite"])
    if not bad and not flagged:
        return None
    value = lambda k: float(np.asarray(metrics[k], np.float64))
    parts = []
    if bad:
        then = f" (then {', '.join(f'{k} = {value(k)}' for k in bad[1:])})" if bad[1:] else ""
        parts.append(f"the first non-finite quantity is {bad[0]} = {value(bad[0])}{then}")
    param = first_non_finite_param(state) if state is not None else None
    if param is not None:
        parts.append(f"the first non-finite parameter (state at step {int(state.step)}) is "
                     f"{param}")
    elif not bad:
        parts.append("a parameter is non-finite")
    return (f"training diverged at step {step}: {'; '.join(parts)}; lower the learning rates "
            f"or clip gradients (config.grad_clip_norm)")


# --- the stateful wrapper -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MonitorConfig:
    """Thresholds of the detectors (config keys `monitor_*`, see `from_config`).

    Attributes:
      window: steps the convergence and accuracy signs look back over.
      check_every: the window signs are evaluated every this many steps (cheap steps between).
      start_step: no sign fires before this step (the nets start far from equilibrium).
      d_loss_margin: D loss within this of its floor counts as ~0.
      min_fake_accuracy: D accuracy on fakes at least this counts as ~100%.
      min_real_accuracy: D accuracy on reals at least this (with fakes ~100%) is "pinned".
      min_g_loss_slope: the G loss "climbs" when its slope per step exceeds this.
      min_diversity_ratio: mode collapse below this fraction of the real data's diversity.
      min_class_fraction: mode collapse when fewer classes than this fraction are covered.
      healthy_accuracy: (low, high) of the healthy D accuracy.
      stop_on: signs that end the run early (subset of SIGNS).
    """

    window: int = 100
    check_every: int = 10
    start_step: int = 0
    d_loss_margin: float = 0.05
    min_fake_accuracy: float = 0.99
    min_real_accuracy: float = 0.99
    min_g_loss_slope: float = 0.0
    min_diversity_ratio: float = 0.2
    min_class_fraction: float = 0.5
    healthy_accuracy: tuple[float, float] = (0.7, 0.8)
    stop_on: tuple[str, ...] = ()

    def __post_init__(self):
        if self.window < 2 or self.check_every < 1:
            raise ValueError(f"monitor_window must be >= 2 and monitor_check_every >= 1 steps, "
                             f"got {self.window} and {self.check_every}")
        unknown = sorted(set(self.stop_on) - set(SIGNS))
        if unknown:
            raise ValueError(f"monitor_stop_on: unknown sign(s) {', '.join(unknown)}; valid: "
                             f"{', '.join(SIGNS)}")
        low, high = self.healthy_accuracy
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"monitor_healthy_accuracy must be (low, high) with 0 <= low <= "
                             f"high <= 1, got {self.healthy_accuracy}")

    @classmethod
    def from_config(cls, config: ml_collections.ConfigDict) -> MonitorConfig:
        defaults = cls()
        stop_on = config.get("monitor_stop_on", "")
        return cls(
            window=config.get("monitor_window", defaults.window),
            check_every=config.get("monitor_check_every", defaults.check_every),
            start_step=config.get("monitor_start_step", defaults.start_step),
            d_loss_margin=config.get("monitor_d_loss_margin", defaults.d_loss_margin),
            min_fake_accuracy=config.get("monitor_min_fake_accuracy",
                                         defaults.min_fake_accuracy),
            min_real_accuracy=config.get("monitor_min_real_accuracy",
                                         defaults.min_real_accuracy),
            min_g_loss_slope=config.get("monitor_min_g_loss_slope", defaults.min_g_loss_slope),
            min_diversity_ratio=config.get("monitor_min_diversity_ratio",
                                           defaults.min_diversity_ratio),
            min_class_fraction=config.get("monitor_min_class_fraction",
                                          defaults.min_class_fraction),
            healthy_accuracy=tuple(config.get("monitor_healthy_accuracy",
                                              defaults.healthy_accuracy)),
            stop_on=tuple(s.strip() for s in stop_on.split(",") if s.strip()),
        )


@dataclasses.dataclass(frozen=True)
class Report:
    """What the monitor has to say after a step: metrics to log, warning lines, a stop reason."""

    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    stop: str | None = None


class TrainingMonitor:
    """Feeds the detectors and remembers which signs are firing (to warn once per episode).

    Call `observe(step, metrics)` after every step and `observe_samples(step, samples)` with G's
    samples of a fixed latent batch every few steps. Both return a `Report` holding the latest
    value of every monitor metric, the warnings of signs that just started firing, and a stop
    reason when such a sign is listed in `stop_on`.
    """

    def __init__(self, thresholds: MonitorConfig, loss: GANLoss,
                 real_diversity: float | None = None,
                 classify: Callable[[np.ndarray], np.ndarray] | None = None,
                 num_classes: int = 0):
        self.thresholds = thresholds
        self.floor = d_loss_floor(loss)
        self.real_diversity = real_diversity
        self.classify, self.num_classes = classify, num_classes
        self._history = np.zeros((thresholds.window, len(WINDOW_KEYS)))  # a ring buffer
        self._seen = 0
        self._window_metrics: dict[str, float] = {}
        self._sample_metrics: dict[str, float] = {}
        self._firing: dict[str, bool] = {sign: False for sign in SIGNS}

    def _report(self, step: int, signals: Sequence[tuple[str, Signal]]) -> Report:
        metrics, warnings, stop = {}, [], None
        active = step >= self.thresholds.start_step
        for sign, signal in signals:
            metrics.update(signal.metrics)
            if not sign:
                continue
            fired = signal.fired and active
            metrics[sign] = float(fired)
            if fired and not self._firing[sign]:
                warnings.append(f"WARNING step {step}: {sign.replace('_', ' ')}: {signal.reason} "
                                f"({HINTS[sign]})")
            if fired and sign in self.thresholds.stop_on and stop is None:
                stop = f"stopped at step {step} on {sign.replace('_', ' ')}: {signal.reason}"
            self._firing[sign] = fired
        return Report(metrics, tuple(warnings), stop)

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of every monitor metric (window signs and sample signs)."""
        return {**self._window_metrics, **self._sample_metrics}

    def observe(self, step: int, metrics: Metrics) -> Report:
        """Records step `step`'s metrics; every `check_every` steps (once the window is full)
        evaluates the window signs. The report carries the latest monitor metrics every step."""
        t = self.thresholds
        self._history[self._seen % t.window] = [metrics[k] for k in WINDOW_KEYS]
        self._seen += 1
        if self._seen < t.window or step % t.check_every:
            return Report(self.metrics)
        d_loss, g_loss, acc_real, acc_fake = np.roll(self._history, -(self._seen % t.window), 0).T
        report = self._report(step, [
            ("convergence_failure", convergence_failure(
                d_loss, g_loss, acc_fake, d_loss_floor=self.floor,
                d_loss_margin=t.d_loss_margin, min_fake_accuracy=t.min_fake_accuracy,
                min_g_loss_slope=t.min_g_loss_slope, d_accuracy_real=acc_real,
                min_real_accuracy=t.min_real_accuracy)),
            ("", d_accuracy_report(acc_real, acc_fake, t.healthy_accuracy)),
        ])
        self._window_metrics = report.metrics
        return dataclasses.replace(report, metrics=self.metrics)

    def observe_samples(self, step: int, samples: np.ndarray) -> Report:
        """Mode collapse from G's samples of the fixed latent batch."""
        signals = []
        if self.real_diversity is not None:
            signals.append(mode_collapse(samples, self.real_diversity,
                                         self.thresholds.min_diversity_ratio))
        if self.classify is not None and self.num_classes > 0:
            signals.append(class_coverage(self.classify(samples), self.num_classes,
                                          self.thresholds.min_class_fraction))
        if not signals:
            return Report(self.metrics)
        fired = [s for s in signals if s.fired]
        merged = Signal({k: v for s in signals for k, v in s.metrics.items()}, bool(fired),
                        "; ".join(s.reason for s in fired))
        report = self._report(step, [("mode_collapse", merged)])
        self._sample_metrics = report.metrics
        return dataclasses.replace(report, metrics=self.metrics)


# --- a run's monitor ------------------------------------------------------------------------------

Classify = Callable[[np.ndarray], np.ndarray]  # samples -> predicted class ids


def _digits_classifier() -> tuple[Classify, int]:
    from jaxgan.metrics import digits_classifier

    classifier = digits_classifier.load_classifier()
    return (lambda samples: classifier.probabilities(np.asarray(samples)).argmax(-1),
            digits_classifier.NUM_CLASSES)


CLASSIFIERS: Registry[Callable[[], tuple[Classify, int]]] = Registry(
    "data set with a class classifier", {"digits": _digits_classifier})
"""Data sets whose samples a shipped classifier labels: the classes-covered collapse signal."""


def monitor_for_run(config: ml_collections.ConfigDict, loss: GANLoss,
                    real: np.ndarray | None) -> TrainingMonitor:
    """The monitor of a run: thresholds from `config.monitor_*`, the real data's diversity from
    `real` (config.monitor_num_samples real examples; None: no diversity signal) and the class
    coverage signal when `config.dataset` has a classifier (CLASSIFIERS)."""
    thresholds = MonitorConfig.from_config(config)
    diversity = mean_pairwise_distance(real) if real is not None else None
    classify, num_classes = (CLASSIFIERS[config.dataset]() if config.dataset in CLASSIFIERS
                             else (None, 0))
    return TrainingMonitor(thresholds, loss, real_diversity=diversity, classify=classify,
                           num_classes=num_classes)
