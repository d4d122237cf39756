"""crowdlens report as documents: --format html|pdf --out FILE."""

from __future__ import annotations

import shutil
from pathlib import Path

from analytics.cli import main


def test_report_documents_from_the_cli(demo_workspace, demo_versions, tmp_path, capsys):
    """`crowdlens report VERSION --format html|pdf --out FILE` writes the stakeholder document."""
    v = next(v for v in demo_versions if v.version == "1.1.0")
    out = tmp_path / "report.html"
    assert (
        main(["report", v.id[:8], "--workspace", str(demo_workspace.root), "--format", "html", "--out", str(out)]) == 0
    )
    html = out.read_text(encoding="utf-8")
    assert v.label in html and v.id in html and "<script src=" not in html
    parent = next(p for p in demo_versions if p.id in v.parents)
    assert f"{parent.label} ({parent.id[:8]})" in html  # the lineage: the parent before this version
    assert main(["report", v.id[:8], "--workspace", str(demo_workspace.root), "--format", "pdf"]) == 2
    assert "--out FILE" in capsys.readouterr().err
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        pdf = tmp_path / "report.pdf"
        assert (
            main(["report", v.id, "--workspace", str(demo_workspace.root), "--format", "pdf", "--out", str(pdf)]) == 0
        )
        assert pdf.read_bytes().startswith(b"%PDF")
