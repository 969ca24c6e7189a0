"""`base_config()`: every config key with its default (DCGAN on the embedded digits).

Experiment files (`experiments/NAME.py`) start from `base_config()` (or a jaxgan.config.presets
setup) and override fields; the CLI applies dotted overrides on top (`--config.loss=hinge`).
"""
from __future__ import annotations

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    """Defaults shared by every experiment: DCGAN on the embedded digits."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    # data
    c.dataset = "digits"
    c.data_dir = ""  # "" means TFDS's default (~/tensorflow_datasets or $TFDS_DATA_DIR)
    c.resolution = 32
    c.channels = 1
    c.data_sha256 = ""  # content hash of a `jaxgan prepare` set; '' = filled in from the data
    # classes of a labelled data set (jaxgan.data.classes): train on the normal classes only
    c.train_classes = ""  # keep only these, e.g. "0,1,2" ("": every class)
    c.exclude_classes = ""  # drop these, e.g. "7" (the anomaly of anomaly detection)
    c.normal_train_fraction = 0.8  # with either key: train on this seeded share of the normals
    c.split_seed = 0  # seed of that train/test split (EGBAD protocol; recorded in split.json)
    # model
    c.model = "dcgan"
    c.latent_dim = 100
    c.g_features = 64
    c.d_features = 64
    c.d_norm = "batch"  # batch | layer | none
    c.d_batch_stats = "separate"  # joint: D sees [real; fake] in one call (one set of BN stats)
    c.conv_impl = "auto"  # how DCGAN's 4x4 stride-2 convs are computed (models.layers; same result)
    c.mlp_g_hidden = (400, 400, 400, 400)
    c.mlp_d_hidden = (200, 200, 200)
    c.mlp_g_batch_norm = True
    c.mlp_d_activation = "maxout"  # maxout | leaky_relu
    c.point_scale = 1.0  # MLPs on 2-D data work in units of x / point_scale (grid25: 4)
    # ResNet models: model = resnet (SNGAN) | biggan (jaxgan.models.resnet); g/d_features = base ch
    c.resnet_init = "auto"  # auto (resnet: xavier, biggan: ortho) | xavier | ortho
    c.g_spectral_norm = False  # spectral norm on G's layers too (BigGAN)
    c.g_attention_resolution = 0  # > 0: SAGAN self-attention in G at this resolution
    c.d_attention_resolution = 0  # > 0: ... in D
    c.g_shared_dim = 0  # conditional BN: > 0 gains/biases from a shared class embedding (BigGAN)
    c.g_hierarchical_z = False  # z split into chunks, one joined to the embedding per block
    # StyleGAN2 (model = stylegan2, jaxgan.models.stylegan2; training = stylegan2,
    # jaxgan.core.stylegan_step): widths min(channel_base // res, channel_max)
    c.w_dim = 512
    c.mapping_layers = 8
    c.channel_base = 32768
    c.channel_max = 512
    c.conv_clamp = 0.0  # > 0: activations clipped to ±this (the reference: 256)
    c.d_architecture = "resnet"  # resnet | orig
    c.mbstd_group_size = 4
    c.mbstd_num_channels = 1
    c.training = "standard"  # standard | stylegan2 (lazy R1, path length, mixing, EMA by kimg, ADA)
    c.r1_gamma = 10.0  # training=stylegan2: R1 weight γ, every r1_interval D steps
    c.r1_interval = 16
    c.pl_weight = 2.0  # path-length weight (0: off), every pl_interval G steps
    c.pl_interval = 4
    c.pl_decay = 0.01
    c.pl_batch_shrink = 2
    c.style_mixing_prob = 0.9
    c.ema_kimg = 10.0  # training=stylegan2: EMA half-life in thousands of images (0: no EMA)
    c.ema_rampup = 0.0  # > 0: half-life at most this × images seen
    c.ada_target = 0.0  # > 0: ADA, p steered so that E[sign D(real)] ≈ this (0.6)
    c.ada_pipeline = "bgc"  # jaxgan.core.ada.PIPELINES: bgc | bg | blit | geom | color
    c.ada_interval = 4
    c.ada_kimg = 500.0  # p moves by 1 in this many thousand images
    c.ada_p_init = 0.0  # p at step 0 (with ada_target 0: a fixed p)
    # class conditioning (jaxgan.core.conditioning)
    c.conditioning = "none"  # none | concat | acgan | projection
    c.label_embedding_dim = 0  # label code joined to inputs: 0 one-hot, > 0 learned embedding
    c.class_loss_weight = 1.0  # acgan: weight of the class cross-entropy in both losses
    # objective
    c.loss = "non_saturating"
    c.real_label = 1.0  # < 1: one-sided label smoothing (BCE losses)
    c.penalty = "none"  # none | wgan_gp | r1 | dragan
    c.penalty_weight = 10.0
    c.weight_clip = 0.0  # > 0: WGAN weight clipping of D's params to [-c, c]
    c.n_critic = 1
    # stabilisers (jaxgan.core: augment, critic_schedule, optim; jaxgan.training.monitors)
    c.n_critic_boost = 0  # > 0: WGAN schedule, this many critic steps at the boosted steps (100)
    c.n_critic_boost_first = 25  # ... for the first this many generator steps
    c.n_critic_boost_every = 500  # ... and at every this-many-th generator step
    c.d_spectral_norm = False  # spectral normalisation of D's layers (Miyato et al. 2018)
    c.diffaugment = ""  # DiffAugment policy of D's inputs, e.g. "color,translation,cutout"
    c.instance_noise_std = 0.0  # > 0: N(0, std²) added to D's real and fake inputs
    c.instance_noise_anneal_steps = 0  # std decays linearly to 0 over these steps (0: constant)
    c.mode_seeking_weight = 0.0  # > 0: λ of MSGAN's mode-seeking term (core.mode_seeking)
    c.d_minibatch_std_group = 0  # > 0: ProGAN's minibatch stddev in DCGAN's D, group size
    c.pack = 1  # > 1: PacGAN, D judges packs of this many samples (jaxgan.models.packing)
    # optimisation
    c.batch_size = 64
    c.steps = 2000
    c.optimizer = "adam"  # adam | rmsprop
    c.g_lr = 2e-4
    c.d_lr = 2e-4
    c.b1 = 0.5
    c.b2 = 0.999
    c.lr_schedule = "constant"  # constant | linear_warmup | linear_decay | cosine | warmup_cosine
    c.warmup_steps = 0  # generator steps of linear warm-up (linear_warmup, warmup_cosine)
    c.grad_clip_norm = 0.0  # > 0: clip each net's gradient to this global norm
    c.ema_decay = 0.0
    c.ema_warmup = True  # EMA decay min(ema_decay, (1 + t) / (10 + t)) (core.step.ema_decay_at)
    c.ema_start = 0  # the EMA copies G's params before this generator step, averages from it on
    # failure detection (jaxgan.training.monitors): thresholds of the signs, checked while training
    c.monitor_every = 100  # G's samples of a fixed latent batch checked every N steps (0: off)
    c.monitor_num_samples = 256  # size of that batch and of the real sample it is compared to
    c.monitor_window = 100  # steps the convergence-failure and D-accuracy signs average over
    c.monitor_check_every = 10  # the window signs are evaluated every this many steps
    c.monitor_start_step = 500  # no sign fires before this step (an untrained G looks collapsed)
    c.monitor_d_loss_margin = 0.05  # D loss within this of its lowest value counts as ~0
    c.monitor_min_fake_accuracy = 0.99  # D accuracy on fakes from this counts as ~100%
    c.monitor_min_real_accuracy = 0.99  # ... on reals (both ~100% for a window: D wins)
    c.monitor_min_g_loss_slope = 0.0  # G loss "climbs" above this slope per step
    c.monitor_min_diversity_ratio = 0.2  # mode collapse below this fraction of real diversity
    c.monitor_min_class_fraction = 0.5  # mode collapse below this fraction of classes covered
    c.monitor_healthy_accuracy = (0.7, 0.8)  # healthy range of D's mean accuracy (reported)
    c.monitor_stop_on = ""  # signs that stop the run: "convergence_failure,mode_collapse"
    # run
    c.num_seeds = 1  # > 1: train seeds seed..seed+num_seeds-1 at once (jaxgan.training.seed_runs)
    c.seed_map = "vmap"  # how the seeds are mapped: vmap | map | unroll (jaxgan.training.seeds)
    c.parallel = "auto"  # jaxgan.training.parallel mode: auto | jit | pmap | shard_map
    c.sync_batch_norm = True  # BatchNorm statistics over the global batch, not per device
    c.compute_dtype = "float32"  # float32 | bfloat16: the networks' compute dtype (core.precision)
    c.steps_per_call = 1  # > 1: that many steps per compiled lax.scan call (training.loop)
    c.xla_cpu_threads = 0  # > 0: `jaxgan train` sets NPROC (XLA CPU worker threads); 0: XLA default
    c.log_every = 50
    c.sample_every = 500
    c.checkpoint_every = 1000
    c.keep_checkpoints = 3
    c.num_samples_grid = 64
    return c
