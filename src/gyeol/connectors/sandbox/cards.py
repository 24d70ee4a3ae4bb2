"""The sandbox's test cards as the Toss simulator's window reads them; they are the sandbox simulator's own
(`gyeol.simulators.sandbox.cards`), and this name goes when that window moves beside it."""

from gyeol.simulators.sandbox.cards import behavior_of

__all__ = ["behavior_of"]
