"""Project paths, all built from the package location.

The package lives in ``<root>/src/clv``; data, notebooks and reports sit at the
root. Nothing here creates a directory: callers that write files do that.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "NOTEBOOKS_DIR", "PROJECT_ROOT", "REPORTS_DIR"]

PROJECT_ROOT: Path = Path(__file__).resolve().parents[2]
DATA_DIR: Path = PROJECT_ROOT / "data"
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
REPORTS_DIR: Path = PROJECT_ROOT / "reports"
