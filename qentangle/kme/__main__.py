"""``python -m qentangle.kme CONFIG [--synchronous FULL|NORMAL]``: run one KME (see server.py)."""

from qentangle.kme.server import main

if __name__ == "__main__":
    raise SystemExit(main())
