"""Class conditioning of generators and discriminators: cGAN, ACGAN, projection.

A model is made conditional by three fields its dataclass carries — `conditioning` (a name in
`CONDITIONINGS`), `num_classes` and `label_embedding_dim` — and by calling, inside its compact
`__call__`, `condition_latent` (G, on z), `condition_input` (D, on x) and `condition_output` (D, on
its features and unconditional logit). With `conditioning='none'` all three are the identity and
create no parameters, so unconditional models are unchanged.

| conditioning | G input                          | D input            | D output                        |
|--------------|----------------------------------|--------------------|---------------------------------|
| none         | z                                | x                  | o = ψ(φ(x))                     |
| concat       | [z, c(y)]                        | [x, c(y)]          | o                               |
| acgan        | z ⊙ E_G[y]                       | x                  | (o, W φ(x)) — class logits      |
| projection   | [z, c(y)]                        | x                  | o + ⟨V[y], φ(x)⟩                |

c(y) is the one-hot label (`label_embedding_dim` 0) or a learned embedding; for images it is
broadcast over the spatial axes and joined as extra channels. φ(x) is D's last feature map,
flattened, and ψ its existing output layer.

- cGAN: Mirza & Osindero 2014, arXiv:1411.1784 (label joined to the inputs of G and D).
- ACGAN: Odena, Olah & Shlens 2017, arXiv:1610.09585 (D has a real/fake and a class head; both
  nets add the class log-likelihood L_C = E[log P(C=c | X_real)] + E[log P(C=c | X_fake)]).
  G multiplies the noise with a learned class embedding, as in the common reference code.
- Projection discriminator: Miyato & Koyama 2018, arXiv:1802.05637 (D(x, y) = ψ(φ(x)) + yᵀVφ(x));
  G joins the label to z here (the paper's G uses conditional BatchNorm).

The ACGAN discriminator returns a pair `(logits [B], class_logits [B, K])`; the update step uses
`split_discriminator_output` and the class-loss functions below, and adds the class term with the
weight `GAN.class_loss_weight`.
"""
from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan.core.registry import Registry

Array = jax.Array
DiscriminatorOutput = Array | tuple[Array, Array]

CONDITIONINGS: Registry[str] = Registry("conditioning", {
    "none": "unconditional",
    "concat": "cGAN: the label joined to G's noise and D's input (Mirza & Osindero 2014)",
    "acgan": "ACGAN: noise times class embedding; D with a class head (Odena et al. 2017)",
    "projection": "projection discriminator: logit + <V[y], phi(x)> (Miyato & Koyama 2018)",
})

PROJECTION_INIT = nn.initializers.xavier_uniform()
"""Init of the projection embedding V (Glorot uniform, as in Miyato & Koyama's code)."""


def is_conditional(conditioning: str, num_classes: int) -> bool:
    """Validates a conditioning name and class count; True unless conditioning is 'none'."""
    CONDITIONINGS[conditioning]  # raises, listing the valid names
    if conditioning == "none":
        return False
    if num_classes < 2:
        raise ValueError(f"conditioning={conditioning!r} needs a data set with >= 2 classes "
                         f"(num_classes={num_classes}); use conditioning='none'")
    return True


def check_conditioning(conditioning: str, num_classes: int, labels: Array | None) -> bool:
    """Validates a model's conditioning fields and labels; True when the model is conditional."""
    if not is_conditional(conditioning, num_classes):
        return False
    if labels is None:
        raise ValueError(f"this model is class-conditional (conditioning={conditioning!r}): "
                         "pass labels [B] with values in [0, num_classes)")
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape [B], got {labels.shape}")
    return True


def label_code(labels: Array, num_classes: int, embedding_dim: int, name: str) -> Array:
    """c(y): one_hot(y) [B, K] when `embedding_dim` is 0, else a learned embedding [B, E].

    Must be called inside a flax compact method (the embedding becomes a parameter `name`).
    """
    if embedding_dim > 0:
        return nn.Embed(num_classes, embedding_dim, name=name)(labels)
    return jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)


def join_label(x: Array, code: Array) -> Array:
    """[x, c]: joins the code [B, E] to points [B, D] or, broadcast, to images [B, H, W, C]."""
    if x.ndim == 4:
        code = jnp.broadcast_to(code[:, None, None, :], x.shape[:3] + code.shape[-1:])
    return jnp.concatenate([x, code.astype(x.dtype)], axis=-1)


# --- G: noise ------------------------------------------------------------------------------------

def _latent_concat(z, labels, num_classes, embedding_dim):
    """[z, c(y)] (Mirza & Osindero 2014)."""
    return join_label(z, label_code(labels, num_classes, embedding_dim, "label_embedding"))


def _latent_multiply(z, labels, num_classes, embedding_dim):
    """z ⊙ E[y] with a learned E [K, latent_dim] (ACGAN, Odena et al. 2017)."""
    del embedding_dim
    return z * nn.Embed(num_classes, z.shape[-1], name="label_embedding")(labels)


LATENT_CONDITIONING: dict[str, Callable[..., Array]] = {
    "none": lambda z, labels, num_classes, embedding_dim: z,
    "concat": _latent_concat,
    "acgan": _latent_multiply,
    "projection": _latent_concat,
}


def condition_latent(z: Array, labels: Array | None, conditioning: str, num_classes: int,
                     embedding_dim: int = 0) -> Array:
    """G's conditioned input: z, [z, c(y)] or z ⊙ E[y] (see the module table)."""
    if not check_conditioning(conditioning, num_classes, labels):
        return z
    return LATENT_CONDITIONING[conditioning](z, labels, num_classes, embedding_dim)


# --- D: input and output -------------------------------------------------------------------------

def condition_input(x: Array, labels: Array | None, conditioning: str, num_classes: int,
                    embedding_dim: int = 0) -> Array:
    """D's conditioned input: [x, c(y)] for 'concat' (label maps as extra channels), else x."""
    if not check_conditioning(conditioning, num_classes, labels) or conditioning != "concat":
        return x
    return join_label(x, label_code(labels, num_classes, embedding_dim, "label_embedding"))


def _output_plain(logits, features, labels, num_classes, wrap):
    return logits


def _output_projection(logits, features, labels, num_classes, wrap):
    """o + ⟨V[y], φ(x)⟩ (Miyato & Koyama 2018, eq. 3)."""
    v = wrap(nn.Embed(num_classes, features.shape[-1], embedding_init=PROJECTION_INIT,
                      name="projection_embedding"))(labels)
    return logits + jnp.sum(v * features, axis=-1)


def _output_auxiliary_classifier(logits, features, labels, num_classes, wrap):
    """(o, W φ(x) + b): the real/fake logit and the class logits (Odena et al. 2017)."""
    return logits, wrap(nn.Dense(num_classes, name="class_head"))(features)


OUTPUT_CONDITIONING: dict[str, Callable[..., DiscriminatorOutput]] = {
    "none": _output_plain,
    "concat": _output_plain,
    "acgan": _output_auxiliary_classifier,
    "projection": _output_projection,
}


def condition_output(logits: Array, features: Array, labels: Array | None, conditioning: str,
                     num_classes: int, wrap: Callable[[nn.Module], Callable] = lambda layer: layer
                     ) -> DiscriminatorOutput:
    """D's output from its unconditional logit [B] and features φ(x) (flattened to [B, F]).

    `wrap` is applied to the new layers (the projection embedding V, the class head): D's
    spectral normalisation, when it has one (Miyato & Koyama normalise V too).
    """
    if not check_conditioning(conditioning, num_classes, labels):
        return logits
    return OUTPUT_CONDITIONING[conditioning](logits, features.reshape((features.shape[0], -1)),
                                            labels, num_classes, wrap)


# --- the step's hook: ACGAN class terms ----------------------------------------------------------

def split_discriminator_output(output: DiscriminatorOutput) -> tuple[Array, Array | None]:
    """(logits [B], class_logits [B, K] or None) from what a discriminator returned."""
    if isinstance(output, (tuple, list)):
        logits, class_logits = output
        return logits, class_logits
    return output, None


def class_cross_entropy(class_logits: Array, labels: Array) -> Array:
    """−E[log softmax(class_logits)[y]]: the negative class log-likelihood of ACGAN's L_C."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))


def discriminator_class_loss(real_class_logits: Array | None, fake_class_logits: Array | None,
                             labels: Array | None) -> tuple[Array | float, dict[str, Array]]:
    """D's ACGAN class term −L_C = CE(C(x_real), y) + CE(C(G(z, y)), y), and its metrics.

    Odena et al. 2017: D maximises L_S + L_C. Returns (0, {}) for discriminators without a
    class head. Metrics: d_class_loss (the term) and d_class_accuracy (on the real batch).
    """
    if real_class_logits is None:
        return 0.0, {}
    loss = (class_cross_entropy(real_class_logits, labels)
            + class_cross_entropy(fake_class_logits, labels))
    accuracy = jnp.mean((jnp.argmax(real_class_logits, -1) == labels).astype(jnp.float32))
    return loss, {"d_class_loss": loss, "d_class_accuracy": accuracy}


def generator_class_loss(fake_class_logits: Array | None,
                         labels: Array | None) -> tuple[Array | float, dict[str, Array]]:
    """G's ACGAN class term CE(C(G(z, y)), y) (G maximises L_C − L_S, Odena et al. 2017)."""
    if fake_class_logits is None:
        return 0.0, {}
    loss = class_cross_entropy(fake_class_logits, labels)
    return loss, {"g_class_loss": loss}
