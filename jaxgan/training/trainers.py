"""`TRAINERS`: config.task -> the trainer that runs it, each with the signature of
`jaxgan.training.loop.train_and_evaluate(config, workdir, *, monitors, handle_signals, stream,
allow_config_change) -> TrainSummary` (as big_vision's `trainers/`).

'gan' (the default when a config has no `task` key) is jaxgan.training.loop itself, which hands
every other task to this registry; 'cyclegan' is jaxgan.training.cyclegan_loop (unpaired
image-to-image translation, Zhu et al. 2017).
"""
from __future__ import annotations

from jaxgan.core.registry import Registry
from jaxgan.training import cyclegan_loop

TRAINERS = Registry("task", {"cyclegan": cyclegan_loop.train_and_evaluate})
