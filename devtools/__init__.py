"""Tools for working on ecsops, run from the repository and not installed with it: `make bench` (python -m
devtools.bench) and the README's machine diagrams (python -m devtools.readme_diagrams)."""
