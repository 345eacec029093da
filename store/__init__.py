"""Persistence of runs, transitions, steps and locks behind a backend-neutral interface."""
