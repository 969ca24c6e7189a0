"""Input pipelines: TFDS catalog data sets, the embedded digits data set, toy 2-D mixtures."""
