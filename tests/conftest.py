"""Shared pytest fixtures."""

pytest_plugins = ["ecsops.sim.pytest_plugin"]
