"""deploy-fleet: a release of many services as one run, one item per service, each walking deploy's own stages."""
