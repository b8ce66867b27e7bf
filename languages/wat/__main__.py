"""`python -m languages.wat` (see `languages.wat.cli`)."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
