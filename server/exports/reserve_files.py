"""The scheduled reserve export (`samplan reserve-export`): every unit's reserve list written to a directory, so
the lists exist when Samplan does not (docs/reservrutin.md).

Layout, under the target directory (owner-only: directories 0700, files 0600; no personal data in any name):

    enheter.csv                      unit id; unit name; open cases; written at
    <unit id>/reservlista.pdf        the unit's open cases (landscape table)
    <unit id>/reservlista.csv        the same as a spreadsheet
    <unit id>/arenden/<case id>.pdf  one page per open case

Each unit's folder is written beside the old one and swapped in with a rename, so a reader never finds a half
written list, and an export that fails leaves the previous lists in place.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from server.exports.pdf import local
from server.exports.reserve import render_csv, render_list_pdf, render_sheet_pdf
from server.views.reserve import ReserveList

DIR_MODE = 0o700
FILE_MODE = 0o600


def _write(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.chmod(path, FILE_MODE)  # also when the file existed with wider permissions


def _mkdir(path: Path) -> None:
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def write_unit(target: Path, reserve: ReserveList) -> Path:
    """One unit's folder, swapped in whole."""
    _mkdir(target)
    final = target / reserve.unit_id
    fresh = target / f".{reserve.unit_id}.new"
    old = target / f".{reserve.unit_id}.old"
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    _mkdir(fresh)
    _mkdir(fresh / "arenden")
    _write(fresh / "reservlista.pdf", render_list_pdf(reserve))
    _write(fresh / "reservlista.csv", render_csv(reserve))
    for sheet in reserve.sheets:
        _write(fresh / "arenden" / f"{sheet.case.id}.pdf", render_sheet_pdf(sheet))
    if final.exists():
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def write_index(target: Path, lists: Iterable[ReserveList]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(("Enhetens id", "Enhet", "Öppna ärenden", "Utskriven"))
    for reserve in lists:
        writer.writerow((reserve.unit_id, reserve.unit_name, len(reserve.sheets), local(reserve.generated_at)))
    tmp = target / ".enheter.csv.new"
    _write(tmp, ("\ufeff" + out.getvalue()).encode("utf-8"))
    tmp.replace(target / "enheter.csv")
