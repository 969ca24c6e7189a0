"""How many critic (discriminator) updates each generator step makes.

Arjovsky et al. 2017 (WGAN, arXiv:1701.07875; the authors' code `main.py`) train the critic
n_critic = 5 times per generator step, but 100 times for the first 25 generator steps and at every
500th, so the critic stays near optimal while G moves fastest and is re-tightened now and then:

    n(s) = boost     if boost > 0 and (s < boost_first or s mod boost_every = 0)
    n(s) = n_critic  otherwise,                                  s = generator steps done.

n(s) is a pure function of the step, so a resumed run makes exactly the updates (and reads exactly
the n(s)·batch_size real rows per step) the uninterrupted run would. The step (jaxgan.core.step)
takes its n_critic from the GAN; `gans_by_critic_steps` gives one GAN (one compiled step) per
distinct n.
"""
from __future__ import annotations

import dataclasses
import math

import ml_collections

from jaxgan.core.gan import GAN


@dataclasses.dataclass(frozen=True)
class CriticSchedule:
    """n(s) above; `boost` = 0 turns the boost off (n(s) = n_critic for every s)."""

    n_critic: int = 1
    boost: int = 0
    boost_first: int = 25
    boost_every: int = 500

    def __post_init__(self):
        if self.n_critic < 1 or self.boost < 0 or self.boost_first < 0 or self.boost_every < 0:
            raise ValueError(
                f"critic schedule needs n_critic >= 1 and n_critic_boost, n_critic_boost_first, "
                f"n_critic_boost_every >= 0; got {self.n_critic}, {self.boost}, "
                f"{self.boost_first}, {self.boost_every}")

    def boosted(self, step: int) -> bool:
        """Whether generator step `step` (0-based) runs `boost` critic updates."""
        if not self.boost:
            return False
        return step < self.boost_first or (self.boost_every > 0 and step % self.boost_every == 0)

    def at(self, step: int) -> int:
        """n(step): critic updates of generator step `step`."""
        return self.boost if self.boosted(step) else self.n_critic

    def num_boosted(self, steps: int) -> int:
        """|{s < steps : s boosted}| in closed form."""
        if not self.boost or steps <= 0:
            return 0
        first = min(steps, self.boost_first)
        if self.boost_every <= 0:
            return first
        # multiples of boost_every in [first, steps): ceil(steps/e) − ceil(first/e)
        every = self.boost_every
        return first + max(0, math.ceil(steps / every) - math.ceil(first / every))

    def total(self, steps: int) -> int:
        """Σ_{s < steps} n(s): critic updates made by the first `steps` generator steps."""
        return self.n_critic * max(steps, 0) + (self.boost - self.n_critic) * self.num_boosted(steps)

    def distinct(self) -> tuple[int, ...]:
        """The values n(s) takes (one compiled step each)."""
        return tuple(sorted({self.n_critic} | ({self.boost} if self.boost else set())))


def critic_schedule(config: ml_collections.ConfigDict) -> CriticSchedule:
    """The schedule of `config.n_critic` and `config.n_critic_boost{,_first,_every}`."""
    return CriticSchedule(n_critic=config.n_critic, boost=config.get("n_critic_boost", 0),
                          boost_first=config.get("n_critic_boost_first", 25),
                          boost_every=config.get("n_critic_boost_every", 500))


def gans_by_critic_steps(gan: GAN, schedule: CriticSchedule) -> dict[int, GAN]:
    """{n: gan with n_critic = n} for every n the schedule uses: compile one step per entry and
    run step s with the entry `schedule.at(s)` on a batch of `schedule.at(s)`·B real rows."""
    return {n: dataclasses.replace(gan, n_critic=n) for n in schedule.distinct()}
