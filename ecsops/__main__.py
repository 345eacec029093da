"""python -m ecsops"""
from ecsops.cli import main

main()
