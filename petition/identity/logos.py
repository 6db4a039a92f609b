"""Checking an uploaded logo: a PNG by its signature, chunks and size; an SVG cleaned of anything active.

The logo is shown on every page and in every email under the campaign's name, so an SVG may
keep only drawing: scripts, event handlers, foreignObject, animations (which can rewrite a
link) and every reference outside the file are removed, and a file with a DOCTYPE (entities)
is refused outright.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

from ..core.validation import InvalidValue

MAX_BYTES = 1024 * 1024
MAX_PIXELS = 4096  # per side
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_REMOVED_ELEMENTS = frozenset(
    {
        "script",
        "foreignObject",
        "iframe",
        "embed",
        "object",
        "audio",
        "video",
        "handler",
        "listener",
        "animate",
        "animateMotion",
        "animateTransform",
        "animateColor",
        "set",
        "discard",
    }
)
# url(#id) points inside the file; any other url(…) or @import reaches outside it.
_EXTERNAL_CSS = re.compile(r"@import|url\(\s*['\"]?(?!#)|expression\(|javascript:", re.I)


@dataclass(frozen=True)
class Logo:
    content_type: str
    data: bytes
    removed: list[str] = field(default_factory=list)  # what cleaning took out of an SVG


def check_logo(filename: str, data: bytes) -> Logo:
    if not data:
        raise InvalidValue("Choose a logo file (SVG or PNG).")
    if len(data) > MAX_BYTES:
        raise InvalidValue("The logo must be at most 1 MB.")
    if data.startswith(PNG_SIGNATURE):
        _check_png(data)
        return Logo("image/png", data)
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--")) or filename.lower().endswith(".svg"):
        cleaned, removed = clean_svg(data)
        return Logo("image/svg+xml", cleaned, removed)
    raise InvalidValue("The logo must be an SVG or a PNG image.")


def _check_png(data: bytes) -> None:
    """Walk every chunk (length, type, CRC) up to IEND; the first must be a sane IHDR."""
    offset = len(PNG_SIGNATURE)
    first = True
    while True:
        if offset + 12 > len(data):
            raise InvalidValue("The PNG file is cut short.")
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 12 + length
        if end > len(data):
            raise InvalidValue("The PNG file is cut short.")
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + payload) != crc:
            raise InvalidValue("The PNG file is damaged.")
        if first:
            if kind != b"IHDR" or length != 13:
                raise InvalidValue("The PNG file is damaged.")
            width, height = struct.unpack(">II", payload[:8])
            if not (1 <= width <= MAX_PIXELS and 1 <= height <= MAX_PIXELS):
                raise InvalidValue(
                    f"The logo must be at most {MAX_PIXELS} × {MAX_PIXELS} pixels "
                    f"(this one is {width} × {height})."
                )
            first = False
        offset = end
        if kind == b"IEND":
            return


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def clean_svg(data: bytes) -> tuple[bytes, list[str]]:
    """The SVG with only its drawing kept, and a list of what was removed (for the admin)."""
    lowered = data.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise InvalidValue("An SVG logo with a DOCTYPE or entities is refused; export it plainly.")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise InvalidValue(f"The SVG file cannot be read: {exc}.") from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise InvalidValue("The SVG file must start with an <svg> element in the SVG namespace.")
    removed: list[str] = []
    _clean(root, removed)
    ElementTree.register_namespace("", SVG_NS)
    ElementTree.register_namespace("xlink", XLINK_NS)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True), removed


def _clean(element: ElementTree.Element, removed: list[str]) -> None:
    for child in list(element):
        name = _local(child.tag) if isinstance(child.tag, str) else ""
        if name in _REMOVED_ELEMENTS or not child.tag.startswith(f"{{{SVG_NS}}}"):
            element.remove(child)
            removed.append(f"<{name or 'element'}>")
            continue
        if name == "style" and _EXTERNAL_CSS.search(child.text or ""):
            element.remove(child)
            removed.append("<style> reaching outside the file")
            continue
        _clean(child, removed)
    for attribute, value in list(element.attrib.items()):
        name = _local(attribute)
        text = value.strip().lower()
        if name.lower().startswith("on"):
            removed.append(f"{name} attribute")
        elif name == "href" and not text.startswith("#"):
            removed.append("link outside the file")
        elif name == "style" and _EXTERNAL_CSS.search(value):
            removed.append("style reaching outside the file")
        elif "javascript:" in text or (_EXTERNAL_CSS.search(value) and "url(" in text):
            removed.append(f"{name} reaching outside the file")
        else:
            continue
        del element.attrib[attribute]
