"""jaxgan: Generative Adversarial Networks in JAX/Flax.

The package is a house of rooms, each importing only the rooms below it (checked by
tests/test_import_layers.py, which also forbids import circles):

    cli.py        the `jaxgan` command                                              top
    tools/        what uses a trained run: loading, sampling, evaluation, interpolation
    training/     the loop, multi-seed runs, parallel steps, checkpoints, logs, monitors, configs
    config/       base_config(), build_gan(), the published presets
    models/       the networks, one module per family, and the MODELS registry
    core/         the pure math: losses, penalties, augmentations, GAN, state, step    bottom

Side rooms, which the rooms from training up may import: data/ (input pipelines; imports nothing
of jaxgan), metrics/ (FID, KID, IS, PRDC, mode metrics; imports data) and visualize.py (grids,
scatter plots, curves; imports nothing of jaxgan).
"""

__version__ = "0.1.0"
