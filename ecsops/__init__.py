"""ecsops: resumable, audited ECS deploys and container-instance replacement."""

__version__ = "0.1.0"
