"""Declared state machines and the engine that drives and checkpoints them."""
