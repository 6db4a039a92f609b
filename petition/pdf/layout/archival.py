"""PDF/A-2b identification written by ReportLab itself: XMP metadata, sRGB output intent, viewer prefs.

ReportLab writes the Info dictionary; this module adds, at save time and without a second pass over
the file, what an archive expects next to it: an XMP packet that repeats the Info entries (title,
author, subject, keywords, creator tool, producer, dates, language) and says PDF/A-2b, an sRGB
output intent (the page colours are DeviceRGB/DeviceGray), and DisplayDocTitle. Fonts are embedded
by ReportLab (TrueType subsets); the canvas's initial font is one of ours (render.py), so no
standard-14 font is referenced. Nothing is transparent, encrypted or external.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from PIL import ImageCms
from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFCatalog,
    PDFDictionary,
    PDFName,
    PDFStream,
    PDFString,
)

_SRGB = "sRGB IEC61966-2.1"


class _ArchivalCatalog(PDFCatalog):
    """ReportLab's catalogue with /OutputIntents among the entries it writes (as a reference)."""

    __NoDefault__ = [*PDFCatalog.__NoDefault__, "OutputIntents"]
    __Refs__ = __NoDefault__


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile made by LittleCMS (through Pillow): deterministic, nothing to ship."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return bytes(profile.tobytes())


def xmp_date(when: datetime) -> str:
    """ISO 8601 as XMP wants it, with the same offset (or none) as the Info dictionary's date."""
    stamp = when.replace(microsecond=0).isoformat()
    return stamp


def xmp_packet(info: Any, language: str | None, created: datetime) -> str:
    """The XMP packet for ReportLab's PDFInfo ``info``: the same strings, so the two agree."""

    def text(value: object) -> str:
        return escape(str(value or ""))

    date = xmp_date(created)
    # x-default names no language: with none known, dc:language is left out (as /Lang is).
    language_entry = (
        f"<dc:language><rdf:Bag><rdf:li>{text(language)}</rdf:li></rdf:Bag></dc:language>\n"
        if language
        else ""
    )
    keywords = str(info.keywords or "")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '<rdf:Description rdf:about=""\n'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/"\n'
        ' xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">\n'
        "<pdfaid:part>2</pdfaid:part>\n"
        "<pdfaid:conformance>B</pdfaid:conformance>\n"
        "<dc:format>application/pdf</dc:format>\n"
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{text(info.title)}</rdf:li>'
        "</rdf:Alt></dc:title>\n"
        f"<dc:creator><rdf:Seq><rdf:li>{text(info.author)}</rdf:li></rdf:Seq></dc:creator>\n"
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{text(info.subject)}</rdf:li>'
        "</rdf:Alt></dc:description>\n"
        f"{language_entry}"
        f"<pdf:Keywords>{text(keywords)}</pdf:Keywords>\n"
        f"<pdf:Producer>{text(info.producer)}</pdf:Producer>\n"
        f"<xmp:CreatorTool>{text(info.creator)}</xmp:CreatorTool>\n"
        f"<xmp:CreateDate>{date}</xmp:CreateDate>\n"
        f"<xmp:ModifyDate>{date}</xmp:ModifyDate>\n"
        f"<xmp:MetadataDate>{date}</xmp:MetadataDate>\n"
        "</rdf:Description>\n"
        "</rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def add_archival_entries(pdf_doc: Any, language: str | None, created: datetime) -> None:
    """Called on ReportLab's PDFDocument just before it is written out."""
    catalog = pdf_doc.Catalog
    catalog.__class__ = _ArchivalCatalog
    info = pdf_doc.info
    # Uncompressed, as archives and XMP scanners expect to find it.
    catalog.Metadata = PDFStream(
        PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
        xmp_packet(info, language, created).encode("utf-8"),
        filters=[],
    )
    profile = PDFStream(PDFDictionary({"N": 3}), srgb_profile())
    intent = PDFDictionary(
        {
            "Type": PDFName("OutputIntent"),
            "S": PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": PDFString(_SRGB),
            "Info": PDFString(_SRGB),
            "DestOutputProfile": pdf_doc.Reference(profile),
        }
    )
    catalog.OutputIntents = PDFArray([pdf_doc.Reference(intent)])
