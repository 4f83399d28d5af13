"""`trilink export` as a user runs it (the shared run of conftest is one such command)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from interop_run import RecordedRun
from typer.testing import CliRunner

from trilink.cli import app
from trilink.interop.exports import export_document
from trilink.interop.kml import KML_NAMESPACE
from trilink.world.library import DEFAULT_EVENT_ID

runner = CliRunner()
K = f"{{{KML_NAMESPACE}}}"


def test_export_writes_the_nations_picture(recorded_run: RecordedRun) -> None:
    """The shared run is `trilink export DEFAULT --format KML --nation jpn --out FILE`."""
    out, output = recorded_run.export_path, recorded_run.cli_output
    assert "SIMULATION" in output and out.name in output
    root = ET.parse(out).getroot()
    assert root.tag == f"{K}kml"
    name = root.findtext(f"{K}Document/{K}name") or ""
    assert "SIMULATION" in name and DEFAULT_EVENT_ID in name and "JPN" in name
    assert root.findall(f".//{K}Placemark")


def test_the_file_is_the_export_of_what_jpn_held(recorded_run: RecordedRun) -> None:
    again = export_document(
        "kml",
        recorded_run.result.trajectory,
        recorded_run.recorder.history("JPN"),
        event_id=DEFAULT_EVENT_ID,
    )
    assert recorded_run.export_path.read_bytes() == again


@pytest.mark.parametrize(
    ("args", "hint", "fix"),
    [
        (["--format", "shapefile", "--nation", "JPN"], "--format", "czml, geojson, kml"),
        (["--format", "czml", "--nation", "XYZ"], "--nation", "JPN"),
    ],
)
def test_a_wrong_format_or_nation_is_refused_before_the_run(
    tmp_path: Path, args: list[str], hint: str, fix: str
) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            DEFAULT_EVENT_ID,
            *args,
            "--out",
            str(tmp_path / "x"),
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # rich's error box
    assert hint in text and fix in text
    assert not (tmp_path / "x").exists()
