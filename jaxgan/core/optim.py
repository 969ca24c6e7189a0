"""Learning-rate schedules and gradient clipping for the two optimizers (optax).

TTUR (Heusel et al. 2017, arXiv:1706.08500) is simply two learning rates, `g_lr` and `d_lr`.
A schedule maps an optimizer's own update count to a learning rate. G makes one update per
generator step; D makes n(s) per step (jaxgan.core.critic_schedule), so D's schedule is stretched
over D's exact update count: both reach the same point of their schedules at the same generator
step, boosted critic phases included.
"""
from __future__ import annotations

from typing import Callable

import ml_collections
import optax

from jaxgan.core.critic_schedule import critic_schedule
from jaxgan.core.registry import Registry

LearningRate = float | optax.Schedule
ScheduleFactory = Callable[[float, int, int], LearningRate]  # (peak, warmup, total) -> schedule


LR_SCHEDULES: Registry[ScheduleFactory] = Registry("learning-rate schedule", {
    # η(t) = η₀ (a plain float: the optimizer state has no schedule count)
    "constant": lambda peak, warmup, total: peak,
    # η(t) = η₀·t/W for t < W, then η₀
    "linear_warmup": lambda peak, warmup, total: optax.warmup_constant_schedule(
        0.0, peak, warmup),
    # η(t) = η₀·(1 − t/T), 0 after T
    "linear_decay": lambda peak, warmup, total: optax.linear_schedule(peak, 0.0, total),
    # η(t) = η₀·½(1 + cos(πt/T)), 0 after T (Loshchilov & Hutter 2017, arXiv:1608.03983)
    "cosine": lambda peak, warmup, total: optax.cosine_decay_schedule(peak, total),
    # linear warm-up over W, then cosine decay to 0 at T
    "warmup_cosine": lambda peak, warmup, total: optax.warmup_cosine_decay_schedule(
        0.0, peak, warmup, max(total, warmup + 1)),
})


def learning_rate(name: str, peak: float, warmup: int, total: int) -> LearningRate:
    """The schedule `name` with peak η₀ = `peak`, `warmup` and `total` counted in updates."""
    if peak <= 0 or warmup < 0 or total < 1:
        raise ValueError(f"a learning-rate schedule needs lr > 0, warmup_steps >= 0 and "
                         f"steps >= 1; got lr={peak}, warmup={warmup}, total={total}")
    return LR_SCHEDULES[name](peak, warmup, total)


def learning_rates(config: ml_collections.ConfigDict) -> tuple[LearningRate, LearningRate]:
    """(G's, D's) schedules: `config.lr_schedule` over `config.steps` generator steps with
    `config.warmup_steps` of warm-up, peaks `g_lr` and `d_lr`; D's counts run over D's updates."""
    name, warmup = config.get("lr_schedule", "constant"), config.get("warmup_steps", 0)
    critic = critic_schedule(config)
    steps = max(config.steps, 1)
    return (learning_rate(name, config.g_lr, warmup, steps),
            learning_rate(name, config.d_lr, critic.total(warmup), critic.total(steps)))


def clip_gradients(optimizer: optax.GradientTransformation,
                   max_norm: float) -> optax.GradientTransformation:
    """g ← g·min(1, c/‖g‖₂) (global norm over all leaves) before `optimizer`; unchanged if c = 0.

    Gradient norm clipping (Pascanu et al. 2013, arXiv:1211.5063) via optax.clip_by_global_norm.
    """
    if max_norm < 0:
        raise ValueError(f"grad_clip_norm must be >= 0 (0: off), got {max_norm}")
    if max_norm == 0:
        return optimizer
    return optax.chain(optax.clip_by_global_norm(max_norm), optimizer)
