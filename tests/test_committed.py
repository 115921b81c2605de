"""The committed meta-edgegenai/ and kas/ are exactly what the default spec renders."""

from __future__ import annotations

from edgegenai import writer
from edgegenai.render import render
from edgegenai.spec import default_spec_text, load_spec

from conftest import ROOT


def test_committed_output_is_up_to_date(catalog):
    files = render(load_spec(None, catalog), catalog)
    record = writer.SpecRecord.of(None, default_spec_text(), ROOT)
    stale = [c for c in writer.plan(files, ROOT, record) if c.action != writer.UNCHANGED]
    assert not stale, ("committed layer is stale; run `edgegenai generate` at the repository root:\n"
                       + writer.diff(files, ROOT, record))
