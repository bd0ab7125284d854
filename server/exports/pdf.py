"""The PDF page every printout of Samplan shares (fpdf2): A4, a Unicode font, headings, lines and bullets.

Text needs a Unicode TrueType font (å, ä, ö and more). `font_paths()` looks, in order, at SAMPLAN_PDF_FONT
(a regular .ttf; a bold one beside it named *-Bold.ttf is used if present), DejaVu Sans from Debian's
`fonts-dejavu-core`, and DejaVu Sans shipped in matplotlib's package data. If none is found, rendering fails
with `FontMissing` naming what to install: never a silent fallback to a Latin-1 core font.
"""

from __future__ import annotations

import importlib.util
import os
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Literal

from fpdf import FPDF

from domain.deadlines import STOCKHOLM

SYSTEM_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FAMILY = "SamplanSans"
class FontMissing(RuntimeError):
    pass


def _with_bold(regular: Path) -> tuple[Path, Path | None]:
    bold = regular.with_name(regular.stem + "-Bold" + regular.suffix)
    return regular, bold if bold.is_file() else None


@cache
def font_paths() -> tuple[Path, Path | None]:
    """The regular (and bold, if any) Unicode font to render with."""
    configured = os.environ.get("SAMPLAN_PDF_FONT")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(f"SAMPLAN_PDF_FONT={configured} is not a file")
        return _with_bold(path)
    if (SYSTEM_DEJAVU / "DejaVuSans.ttf").is_file():
        return _with_bold(SYSTEM_DEJAVU / "DejaVuSans.ttf")
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if bundled.is_file():
            return _with_bold(bundled)
    raise FontMissing("no Unicode TrueType font for the PDF export: install Debian's fonts-dejavu-core or set "
                      "SAMPLAN_PDF_FONT to a .ttf file")


def local(moment: datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


class Document:
    def __init__(self, orientation: Literal["portrait", "landscape"] = "portrait") -> None:
        regular, bold = font_paths()
        self.pdf = FPDF(orientation=orientation, format="A4")
        self.pdf.set_margins(18, 18, 18)
        self.pdf.set_auto_page_break(True, margin=18)
        self.pdf.add_font(FAMILY, "", str(regular))
        self.bold = "B" if bold is not None else ""
        if bold is not None:
            self.pdf.add_font(FAMILY, "B", str(bold))
        self.pdf.add_page()

    def heading(self, text: str, size: int = 13) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(FAMILY, self.bold, size)
        self.pdf.multi_cell(0, size * 0.55, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(FAMILY, "", 10.5)

    def line(self, text: str) -> None:
        self.pdf.set_font(FAMILY, "", 10.5)
        self.pdf.multi_cell(0, 5.6, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def bullets(self, lines: list[str], empty: str = "(inget angivet)") -> None:
        for text in lines or [empty]:
            self.line(f"• {text}" if lines else text)


