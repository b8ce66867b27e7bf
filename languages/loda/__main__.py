"""`python -m languages.loda eval|check|fmt ...`"""
import sys

from .cli import main

sys.exit(main())
