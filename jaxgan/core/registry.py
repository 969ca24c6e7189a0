"""A name -> object registry whose unknown-name error lists the valid names."""
from __future__ import annotations

from typing import TypeVar

V = TypeVar("V")


class UnknownNameError(KeyError, ValueError):
    """An unknown registry name. Its message is one line listing the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(dict[str, V]):
    """A dict that names what it holds, so `REGISTRY['typo']` says what the choices are."""

    def __init__(self, kind: str, entries: dict[str, V] | None = None):
        super().__init__(entries or {})
        self.kind = kind

    def __missing__(self, name: str) -> V:
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}; valid choices: {', '.join(sorted(self))}")
