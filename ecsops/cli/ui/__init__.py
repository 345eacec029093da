"""ecsops ui: a read-only web view of the run store."""
