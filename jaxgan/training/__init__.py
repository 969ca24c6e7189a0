"""Training a GAN in a workdir: the loop and the machinery around it.

    loop.py        `train_and_evaluate(config, workdir)`: one run, in four named steps (set-up,
                   restore, the loop, the end of a run)
    seed_runs.py   `config.num_seeds > 1`: the same steps for several seeds trained at once, each
                   into its own workdir
    run.py         the pieces both share: keys, start states, a step's batch, the stop flag,
                   `TrainingStopped`, `TrainSummary`
    workdir.py     what a run leaves in its workdir (file names, config.json, data_spec.json,
                   sample grids, training curves) and the checks before writing there
    parallel.py    the step compiled with jit, pmap or shard_map; several processes
    seeds.py       S states stacked, the step mapped over seeds inside one jit
    checkpoint.py  Orbax checkpoints: save, keep the last few, restore onto any layout
    logs.py        metrics.jsonl, TensorBoard, progress lines
    monitors.py    failure signs: convergence failure, mode collapse, D accuracy, NaN/Inf
    run_config.py  experiment files, `--config.KEY=VALUE` overrides, `validate_config`
    lock.py        one writer per workdir: an OS file lock naming its holder
    identity.py    run identity on resume: which config keys may change, which need consent

Room `training`: imports core, models, config and the side rooms data, metrics and visualize;
imported by tools and cli. This `__init__` imports nothing, so that importing one module of the
room (e.g. jaxgan.training.parallel before any device is touched) loads only that module.
"""
