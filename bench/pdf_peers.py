"""The same statement and list laid out with what a user might pick instead: fpdf2, Typst, WeasyPrint.

Each peer gets the layout as far as it allows it: title, statement text, the list in two columns
grouped by type with a subheading per country, names wrapped, Noto Serif / Noto Sans embedded as
subsets, compressed streams, and no more: Typst, which writes a tagged PDF by default (a structure
tree the renderer cannot write), runs with its tags off. They are dev-only dependencies
(requirements-dev.txt), used only here.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator

from bench.pdf_render_bench import STATEMENT_BODY, synthetic_doc, synthetic_rows, type_counts_for
from petition.pdf.layout import ORGANISATION_TYPES
from petition.pdf.layout.fonts import FONT_DIR

LABELS = dict(ORGANISATION_TYPES)
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def _items(rows: int) -> Iterator[tuple[str, str, str, str]]:
    """('group', heading, '', '') / ('country', name, '', '') / ('entry', name, city, '')."""
    counts = type_counts_for(rows)
    group = country = None
    for row in synthetic_rows(rows):
        if row.organisation_type != group:
            group, country = row.organisation_type, None
            yield ("group", f"{LABELS[group]} ({counts[group]:,})", "", "")
        if row.country_name != country:
            country = row.country_name
            yield ("country", country, "", "")
        yield ("entry", row.organisation_name, row.city, "")


def render_fpdf2(rows: int, path: str) -> int:
    from fpdf import FPDF

    doc = synthetic_doc()
    pdf = FPDF(format="A4", unit="pt")
    pdf.set_compression(True)
    pdf.add_font("Serif", "", str(FONT_DIR / "NotoSerif-Regular.ttf"))
    pdf.add_font("Sans", "B", str(FONT_DIR / "NotoSans-Bold.ttf"))
    margin = 71.0
    pdf.set_margins(margin, 68, margin)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Sans", "B", 20)
    pdf.multi_cell(360, 25, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Serif", "", 10.5)
    for paragraph in STATEMENT_BODY.split("\n\n"):
        pdf.multi_cell(360, 15.5, paragraph.replace("\n", " "), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
    width = (pdf.w - 2 * margin - 20) / 2
    bottom = pdf.h - 68
    column = 0
    column_top = pdf.get_y()  # the list starts below the statement on the first page
    for kind, text, city, _ in _items(rows):
        height = {"group": 18.0, "country": 12.0}.get(kind, 11.4)
        if pdf.get_y() + height > bottom:
            if column == 0:
                column = 1
            else:
                column = 0
                pdf.add_page()
                column_top = pdf.t_margin
            pdf.set_y(column_top)
        pdf.set_x(margin + column * (width + 20))
        if kind == "entry":
            pdf.set_font("Serif", "", 8.5)
            line = f"{text} — {city}" if city else text
            pdf.multi_cell(width, 11.4, line, new_x="LEFT", new_y="NEXT")
        else:
            pdf.set_font("Sans", "B", 9.5 if kind == "group" else 7.5)
            pdf.cell(width, height, text, new_x="LEFT", new_y="NEXT")
    pdf.output(path)
    return pdf.page


def _typst_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_typst(rows: int, path: str) -> int:
    import typst

    doc = synthetic_doc()
    parts = [
        '#set page(paper: "a4", margin: (x: 25mm, y: 24mm))',
        '#set text(font: "Noto Serif", size: 10.5pt, lang: "en")',
        '#show heading: set text(font: "Noto Sans")',
        '#let g(t) = block(above: 10pt, below: 5pt, text(font: "Noto Sans", weight: "bold", 9.5pt, t))',
        '#let c(t) = block(above: 5pt, below: 3pt, text(font: "Noto Sans", weight: "bold", 7.5pt, t))',
        "#let e(n, p) = block(above: 0pt, below: 3pt, par(hanging-indent: 10pt, text(8.5pt)[#n#p]))",
        f"#block(width: 360pt)[= #{_typst_string(doc.title)}]",
        f"#block(width: 360pt)[#{_typst_string(STATEMENT_BODY)}]",
        "#columns(2, gutter: 20pt)[",
    ]
    for kind, text, city, _ in _items(rows):
        if kind == "group":
            parts.append(f"#g({_typst_string(text)})")
        elif kind == "country":
            parts.append(f"#c({_typst_string(text)})")
        else:
            parts.append(
                f"#e({_typst_string(text)}, {_typst_string(f' — {city}' if city else '')})"
            )
    parts.append("]")
    source = "\n".join(parts).encode("utf-8")
    # pdf_tags=False is typst's --no-pdf-tags: no structure tree, like the renderer's PDF (a
    # tagged file is several times larger and slower to write, which would flatter the renderer).
    data = typst.compile(
        source, font_paths=[str(FONT_DIR)], ignore_system_fonts=True, pdf_tags=False
    )
    with open(path, "wb") as out:
        out.write(data)
    # Page objects only: "/Type/Pages" (the page tree) is not one.
    return len(_PAGE_OBJECT.findall(data))


def render_weasyprint(rows: int, path: str) -> int:
    from weasyprint import HTML

    doc = synthetic_doc()
    fonts = FONT_DIR.as_uri()
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><style>",
        f"@font-face {{ font-family: S; src: url({fonts}/NotoSerif-Regular.ttf); }}",
        f"@font-face {{ font-family: N; src: url({fonts}/NotoSans-Bold.ttf); font-weight: bold; }}",
        "@page { size: A4; margin: 24mm 25mm; }",
        "body { font: 10.5pt/1.45 S; } .t { width: 360pt; }",
        ".l { columns: 2; column-gap: 20pt; font-size: 8.5pt; line-height: 11.4pt; }",
        "h3 { font: bold 9.5pt N; margin: 10pt 0 4pt; } h4 { font: bold 7.5pt N; margin: 4pt 0 2pt; }",
        "p.e { margin: 0; padding-left: 10pt; text-indent: -10pt; }",
        "</style></head><body>",
        f"<h1>{html.escape(doc.title)}</h1><div class=t>",
        *(f"<p>{html.escape(p)}</p>" for p in STATEMENT_BODY.split("\n\n")),
        "</div><div class=l>",
    ]
    for kind, text, city, _ in _items(rows):
        if kind == "group":
            out.append(f"<h3>{html.escape(text)}</h3>")
        elif kind == "country":
            out.append(f"<h4>{html.escape(text)}</h4>")
        else:
            tail = f" — {html.escape(city)}" if city else ""
            out.append(f"<p class=e>{html.escape(text)}{tail}</p>")
    out.append("</div></body></html>")
    document = HTML(string="".join(out), base_url=os.getcwd()).render()
    document.write_pdf(path)
    return len(document.pages)
