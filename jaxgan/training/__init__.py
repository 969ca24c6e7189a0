"""Training a GAN in a workdir: the loop and the machinery around it.

    loop.py        `train_and_evaluate(config, workdir)`: one run
    seed_runs.py   `config.num_seeds > 1`: several seeds trained at once, each into its own workdir
    parallel.py    the step compiled with jit, pmap or shard_map; several processes
    seeds.py       S states stacked, the step mapped over seeds inside one jit
    checkpoint.py  Orbax checkpoints: save, keep the last few, restore onto any layout
    logs.py        metrics.jsonl, TensorBoard, progress lines
    monitors.py    failure signs: convergence failure, mode collapse, D accuracy, NaN/Inf
    run_config.py  experiment files, `--config.KEY=VALUE` overrides, `validate_config`

Room `training`: imports core, models, config and the side rooms data, metrics and visualize;
imported by tools and cli. This `__init__` imports nothing, so that importing one module of the
room (e.g. jaxgan.training.parallel before any device is touched) loads only that module.
"""
