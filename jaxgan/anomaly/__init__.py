"""Anomaly detection with a GAN trained on normal data only: AnoGAN and f-AnoGAN.

Room `anomaly`, above `tools` and below `cli`: it imports core, models, config, training, tools and
the side rooms (data, visualize); only jaxgan.cli imports it. Its modules:
  scores    the pure math: AnoGAN's and f-AnoGAN's losses, residual maps, AUROC / AUPRC;
  features  D's last intermediate features f(x) and its logit, from a trained GANState;
  anogan    latent search z* = argmin_z L(z) by Γ Adam steps, vectorised over queries;
  encoder   the f-AnoGAN izi_f encoder E, its training with G and D frozen, its Orbax checkpoint;
  workflow  the run-level commands (fit, score, eval, picture) behind `jaxgan anomaly`;
  cli       the `jaxgan anomaly` argument parser.
Facts and paper values: ../shared/reference/REFERENCE.md, "Anomaly detection with GANs".
"""
