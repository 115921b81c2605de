"""What the checks share: the workspace they look at and the findings they report.

Kept apart from the checks so that each check module depends on this one
small vocabulary and on nothing of the others.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from ..catalog import Catalog, load_catalog
from .. import writer
from ..errors import UserError
from ..render import KAS, LAYER

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
# Every file of the layer that BitBake reads.
METADATA_SUFFIXES = (".bb", ".bbappend", ".bbclass", ".inc", ".conf")


@dataclass(frozen=True)
class Finding:
    """One problem, where it is and how to fix it."""

    id: str
    severity: str
    path: str
    line: Optional[int]
    message: str

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    @property
    def fails(self) -> bool:
        return self.severity != INFO

    def sort_key(self):
        return (self.path, self.line or 0, self.id, self.message)

    def as_dict(self) -> dict:
        return {"id": self.id, "severity": self.severity, "path": self.path,
                "line": self.line, "message": self.message}


@dataclass
class Outcome:
    """What a check returns: its findings, lines worth printing, or why it did not run."""

    findings: List[Finding] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    skipped: Optional[str] = None


@dataclass(frozen=True)
class Result:
    """An outcome with the check's name and the time it took."""

    check: str
    summary: str
    findings: List[Finding]
    seconds: float
    skipped: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.fails for f in self.findings)

    @property
    def status(self) -> str:
        """`failed`, `skipped` (did not run), `partial` (ran, left something unchecked) or `passed`."""
        if self.failed:
            return "failed"
        if self.skipped:
            return "skipped"
        if self.findings:
            return "partial"
        return "passed"

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


@dataclass(frozen=True)
class Workspace:
    """The directory under check (holding meta-edgegenai/ and kas/) and the options of the run.

    Options are plain values here so that checks never see the command line.
    """

    root: Path
    spec_file: Optional[Path] = None
    kernel_src: Tuple[Path, ...] = ()
    kernel_cache: Optional[Path] = None
    bitbake_root: Optional[Path] = None
    bitbake_build_dir: Optional[Path] = None
    bitbake_user: Optional[str] = None
    # kas option fragments (kas/opt/<name>.yml) whose graph BitBake also resolves.
    bitbake_opts: Tuple[str, ...] = ()
    catalog_override: Optional[Catalog] = field(default=None, compare=False)

    @property
    def layer(self) -> Path:
        return self.root / LAYER

    @property
    def kas_dir(self) -> Path:
        return self.root / KAS

    @property
    def catalog(self) -> Catalog:
        return self.catalog_override or load_catalog()

    def rel(self, path: Path) -> str:
        """Paths in findings are relative to the root: stable in CI logs and JSON."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def layer_files(self, suffixes: Tuple[str, ...] = METADATA_SUFFIXES) -> List[Path]:
        if not self.layer.is_dir():
            return []
        return sorted(p for p in self.layer.rglob("*") if p.is_file() and p.suffix in suffixes)

    @functools.cached_property
    def spec_path(self) -> Optional[Path]:
        """The spec file to check against: --spec, else the one `generate` recorded, else None (built-in).

        A layer rendered from a spec file is never checked against the
        built-in spec: if its recorded spec cannot be found, that is an error.
        """
        if self.spec_file is not None:
            return self.spec_file
        record = writer.recorded_spec(self.root)
        if record is None or record.path is None:
            return None
        path = Path(os.path.normpath(self.root / record.path))
        if not path.is_file():
            raise UserError(f"{self.root} was generated from {record.path} (relative to it; recorded in "
                            f"{writer.MANIFEST}), which is not there: pass --spec with that spec")
        return path

    @functools.cached_property
    def spec(self):
        """The spec the layer was rendered from (see `spec_path`)."""
        from ..spec import load_spec
        return load_spec(self.spec_path, self.catalog)

    @functools.cached_property
    def releases(self) -> List[str]:
        """The releases the layer claims in LAYERSERIES_COMPAT, in its order."""
        conf = self.layer / "conf" / "layer.conf"
        if not conf.is_file():
            raise UserError(f"{self.rel(conf)}: not found; is {self.root} the directory holding "
                            f"{LAYER}/ (run `edgegenai generate` there first)?")
        match = re.search(r'^LAYERSERIES_COMPAT_\S+\s*=\s*"([^"]*)"', conf.read_text("utf-8"), re.M)
        return match.group(1).split() if match else []


def which(tool: str) -> Optional[str]:
    return shutil.which(tool)


def tool_missing(check: str, tool: str, how: str) -> Outcome:
    """A check whose tool is absent fails loudly: a missing tool must never read as clean."""
    return Outcome([Finding(f"edgegenai.{check}.tool-missing", ERROR, tool, None,
                            f"{tool} is not installed, so nothing was checked; {how}")])
