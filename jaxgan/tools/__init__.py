"""What uses a trained run: loading it back from its workdir, sampling, evaluation, interpolation.

    trained.py      `load_run(workdir)` (config, data description, GAN, latest checkpoint) and
                    `generate_samples(run, num, seed)`
    evaluate.py     `evaluate_run(run)`: the metrics that fit the run's data (`jaxgan eval`)
    interpolate.py  G along latent paths and their pictures (`jaxgan interpolate`)

Room `tools`: imports core, models, config, training and the side rooms data, metrics and
visualize; imported only by cli.
"""
