"""Reading a programme's rules: a packaged TOML name or a user's file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from clv.tiers import SchemeError


def read_rules(rules: str | Path, what: str) -> tuple[dict[str, Any], str]:
    """Parse the TOML of ``rules`` (a packaged name under ``clv/schemes`` or a
    path); returns the table and a label for messages. ``what`` names the kind
    of rules in errors ("ladder", "points rules", "scorecard").

    Each loader then checks the values with the helpers of :mod:`clv.tiers`
    (``_text``, ``_number``, ``_whole``, ``_tables``...), which name the key
    path of every mistake."""
    path = Path(rules)
    if path.is_file():
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        file = resources.files("clv.schemes").joinpath(f"{rules}.toml")
        if not file.is_file():
            raise SchemeError(
                [
                    f"no packaged {what} or file called {str(rules)!r}; give a packaged name or "
                    "the path of a .toml file"
                ],
                str(rules),
                what,
            )
        text, source = file.read_text("utf-8"), f"{rules} (packaged)"
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise SchemeError([f"is not valid TOML: {exc}"], source, what) from None
