"""python -m ecsops"""
from ecsops.cli.app import main

main()
