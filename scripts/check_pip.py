"""Fail clearly when the pip that will install storywatch is too old to resolve its
dependencies.

pip 23.2 (the one Python 3.11 ships) crashes with "AssertionError: Internal issue:
Candidate is not for this requirement lxml[html-clean,html-clean]" on the lxml extras
that trafilatura and its dependencies ask for; pip 23.3 resolves them (tried on
Python 3.11.7: 23.2.1 crashes, 23.3 and 24.0 install). `make` runs this after upgrading
pip in the virtualenv, so an upgrade that failed (offline, a pinned mirror) stops here with
the fix instead of deep inside the resolver.

    python scripts/check_pip.py            # checks the pip of this interpreter
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

MINIMUM = (23, 3)


def problem(installed: str | None) -> str | None:
    """Why this pip version cannot install storywatch, or None when it can."""
    fix = f"run: {sys.executable} -m pip install --upgrade pip"
    if installed is None:
        return f"pip is not installed for {sys.executable}; {fix}"
    try:
        found = tuple(int(part) for part in installed.split(".")[:2])
    except ValueError:
        return None  # a development build: let it try
    if found < MINIMUM:
        wanted = ".".join(map(str, MINIMUM))
        return (f"pip {installed} is too old: storywatch needs pip >= {wanted} (older pips "
                f"crash on the lxml[html-clean] extra); {fix}")
    return None


def main() -> int:
    try:
        installed: str | None = version("pip")
    except PackageNotFoundError:
        installed = None
    message = problem(installed)
    if message:
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
