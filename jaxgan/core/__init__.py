"""The pure math of a GAN: losses, penalties, augmentations, the `GAN` definition, its state
pytree, the update step, class conditioning, latent utilities, learning-rate and critic schedules.

Functions of arrays and configs only: no file I/O, no logging, no printing.

Room `core`, the bottom layer: imports nothing of jaxgan outside `jaxgan.core`; every other room
may import it (tests/test_import_layers.py checks this).
"""
