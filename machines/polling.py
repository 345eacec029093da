"""How long a wait loop sleeps between polls: quick at first, slower while nothing changes."""

from __future__ import annotations


class AdaptiveInterval:
    """first, first x growth, ... up to `most` as polls see nothing new; back to `first` when told of a change.

    `fixed` (a --poll-interval given by a person) is used as it is, always. Each operation picks its own bounds.
    """

    def __init__(self, first: float, most: float, *, fixed: float | None = None, growth: float = 1.5) -> None:
        self.first = first
        self.most = most
        self.fixed = fixed
        self.growth = growth
        self._current = first

    @property
    def current(self) -> float:
        """The interval to sleep now."""
        return self.fixed if self.fixed is not None else self._current

    def after(self, changed: bool = False) -> float:
        """The interval after a poll: slower if it saw no change, from the start again if it did."""
        self._current = self.first if changed else min(self.most, self._current * self.growth)
        return self.current
