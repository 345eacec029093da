"""Shared pytest fixtures: the simulated AWS plugin and a fresh store per test."""

pytest_plugins = ["ecsops.sim.pytest_plugin"]
