"""Simulated AWS for ecsops: moto's endpoint plus a model of what ECS does over time."""
