"""The letterhead: the campaign's logo (optional) and name above the statement.

``load_logo`` is the one entry point for a logo: it takes the file's bytes (SVG or PNG), checks
them, and returns a ``Logo`` to put in ``StatementDoc.logo``. An SVG is drawn as vectors (svglib);
a PNG is flattened onto white first (no soft mask: PDF/A and print stay simple). Opacity in an SVG
is dropped for the same reason, and an SVG that refers to images or declares entities is refused
(no external content, no entity expansion).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image
from reportlab import rl_config
from reportlab.graphics.shapes import Drawing, Group, Shape, String
from reportlab.lib.colors import Color
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable

from . import styles
from .fonts import SANS, SANS_BOLD

MAX_LOGO_BYTES = 2_000_000
_PNG = b"\x89PNG\r\n\x1a\n"
_SVG_FORBIDDEN = re.compile(rb"<!ENTITY|<!DOCTYPE|<image\b|<use\b[^>]*href\s*=\s*[\"'](?!#)", re.I)


class LogoError(ValueError):
    """The file is not a logo the PDF can carry."""


@dataclass(frozen=True)
class Logo:
    drawing: Drawing | None  # SVG, as vectors
    image: ImageReader | None  # PNG, flattened
    width: float  # intrinsic size in points (or pixels for a PNG: only the ratio matters)
    height: float


def _on_white(color: object) -> object:
    alpha = getattr(color, "alpha", 1)
    if not isinstance(color, Color) or alpha is None or alpha >= 1:
        return color
    red, green, blue = (alpha * c + (1 - alpha) for c in (color.red, color.green, color.blue))
    return Color(red, green, blue)


def _opaque(node: object) -> None:
    """Semi-transparent paint becomes the colour it shows on white paper; text is set in our
    embedded sans (an SVG's font would be a standard font the PDF cannot embed)."""
    if isinstance(node, Group):
        for child in node.contents:
            _opaque(child)
    if isinstance(node, Shape):
        for attribute in ("fillColor", "strokeColor"):
            if getattr(node, attribute, None) is not None:
                setattr(node, attribute, _on_white(getattr(node, attribute)))
        for attribute in ("fillOpacity", "strokeOpacity"):
            if getattr(node, attribute, None) is not None:
                setattr(node, attribute, None)
    if isinstance(node, String):
        node.fontName = SANS


def load_logo(data: bytes) -> Logo:
    """A logo from an SVG or PNG file's bytes; LogoError if it is neither, or unsafe."""
    if not data or len(data) > MAX_LOGO_BYTES:
        raise LogoError("the logo file is empty or too large")
    if data.startswith(_PNG):
        try:
            with Image.open(io.BytesIO(data)) as image:
                rgba = image.convert("RGBA")
        except (OSError, ValueError) as exc:
            raise LogoError("the PNG file cannot be read") from exc
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return Logo(None, ImageReader(flat), float(flat.width), float(flat.height))
    head = data[:1000].lstrip()
    if not (head.startswith(b"<") and b"<svg" in data):
        raise LogoError("the logo is neither SVG nor PNG")
    if _SVG_FORBIDDEN.search(data):
        raise LogoError("the SVG refers to external content or declares entities")
    from svglib.svglib import svg2rlg  # imported on use: only documents with a logo need it

    try:
        drawing = svg2rlg(io.BytesIO(data))
    except Exception as exc:  # svglib raises whatever its XML and CSS parsers raise
        raise LogoError("the SVG file cannot be read") from exc
    if drawing is None or not drawing.width or not drawing.height:
        raise LogoError("the SVG file has no size")
    _opaque(drawing)
    return Logo(drawing, None, float(drawing.width), float(drawing.height))


class Letterhead(Flowable):
    """Logo at the left (at most LOGO_HEIGHT tall), the campaign's name beside it, a rule below."""

    def __init__(self, name: str, logo: Logo | None) -> None:
        super().__init__()
        self._name = name
        self._logo = logo

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        self.height = styles.LETTERHEAD_HEIGHT
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        logo_box = styles.LOGO_HEIGHT
        text_x = 0.0
        bottom = self.height - logo_box
        if self._logo is not None:
            logo = self._logo
            scale = min(logo_box / logo.height, styles.LOGO_MAX_WIDTH / logo.width)
            width, height = logo.width * scale, logo.height * scale
            y = bottom + (logo_box - height) / 2
            if logo.drawing is not None:
                canvas.saveState()
                canvas.translate(0, y)
                canvas.scale(scale, scale)
                # The renderer opens with its default graphics font (Helvetica, never embedded).
                default_font = rl_config.defaultGraphicsFontName
                rl_config.defaultGraphicsFontName = SANS
                try:
                    logo.drawing.drawOn(canvas, 0, 0)
                finally:
                    rl_config.defaultGraphicsFontName = default_font
                canvas.restoreState()
            elif logo.image is not None:
                canvas.drawImage(logo.image, 0, y, width, height)
            text_x = width + 10
        canvas.saveState()
        canvas.setFillColor(styles.INK)
        canvas.setFont(SANS_BOLD, styles.LETTERHEAD_SIZE)
        canvas.drawString(text_x, bottom + logo_box / 2 - styles.LETTERHEAD_SIZE * 0.35, self._name)
        canvas.setStrokeColor(styles.ACCENT)
        canvas.setLineWidth(1.2)
        canvas.line(0, 0.6, self.width, 0.6)
        canvas.restoreState()
