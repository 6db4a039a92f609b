"""Statement Markdown (CommonMark, raw HTML off) turned into ReportLab platypus flowables."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, HRFlowable, ListFlowable, ListItem, Paragraph, Preformatted

from . import styles
from .fonts import ITALIC, REGULAR
from .text import clean_block, clean_inline, escape_markup

# html=False: raw HTML in a statement is printed as text, never interpreted (the web view
# sanitises it separately; the PDF has no business rendering it at all).
_MARKDOWN = MarkdownIt("commonmark", {"html": False})

_BULLETS = ("•", "–", "◦")
_QUOTE_INDENT = 16.0
_LIST_INDENT = 16.0
_CODE_LINE_LENGTH = 92


@dataclass(frozen=True)
class _Context:
    indent: float = 0.0
    quoted: bool = False
    list_depth: int = 0


_style_cache: dict[tuple[str, float, bool], ParagraphStyle] = {}


def _style(base: ParagraphStyle, ctx: _Context) -> ParagraphStyle:
    key = (base.name, ctx.indent, ctx.quoted)
    style = _style_cache.get(key)
    if style is None:
        style = ParagraphStyle(
            f"{base.name}-{ctx.indent:g}-{int(ctx.quoted)}",
            parent=base,
            leftIndent=base.leftIndent + ctx.indent,
        )
        if ctx.quoted:
            # Print convention for quotations: indented, oblique, a shade lighter, set apart.
            style.fontName = ITALIC if base.fontName == REGULAR else base.fontName
            style.textColor = styles.MUTED
            style.spaceBefore = max(base.spaceBefore, 6)
        _style_cache[key] = style
    return style


def markdown_flowables(source: str) -> list[Flowable]:
    """Flowables for a statement body; every piece of text is escaped before Paragraph sees it."""
    tree = SyntaxTreeNode(_MARKDOWN.parse(source))
    return _blocks(tree.children, _Context())


def _blocks(nodes: list[SyntaxTreeNode], ctx: _Context) -> list[Flowable]:
    out: list[Flowable] = []
    for node in nodes:
        out.extend(_block(node, ctx))
    return out


def _block(node: SyntaxTreeNode, ctx: _Context) -> list[Flowable]:
    kind = node.type
    if kind == "heading":
        level = int(node.tag[1])
        base = styles.HEADINGS[min(level, 3)]
        heading = Paragraph(_inline_children(node), _style(base, ctx))
        heading.keepWithNext = True
        return [heading]
    if kind == "paragraph":
        base = styles.LIST_ITEM if ctx.list_depth else styles.BODY
        return [Paragraph(_inline_children(node), _style(base, ctx))]
    if kind == "blockquote":
        return _blocks(node.children, replace(ctx, indent=ctx.indent + _QUOTE_INDENT, quoted=True))
    if kind in ("bullet_list", "ordered_list"):
        return [_list(node, ctx)]
    if kind in ("fence", "code_block"):
        return [
            Preformatted(
                clean_block(node.content),
                _style(styles.CODE, ctx),
                maxLineLength=_CODE_LINE_LENGTH,
                newLineChars="",
            )
        ]
    if kind == "hr":
        return [
            HRFlowable(width="100%", thickness=0.5, color=styles.RULE, spaceBefore=4, spaceAfter=10)
        ]
    # html_block cannot occur with html=False; anything else unknown keeps its text.
    text = clean_inline(node.content) if node.content else ""
    return [Paragraph(escape_markup(text), _style(styles.BODY, ctx))] if text else []


def _list(node: SyntaxTreeNode, ctx: _Context) -> ListFlowable:
    inner = _Context(quoted=ctx.quoted, list_depth=ctx.list_depth + 1)
    items = [ListItem(_blocks(item.children, inner)) for item in node.children]
    common: dict[str, Any] = {
        "leftIndent": ctx.indent + _LIST_INDENT,
        "bulletFontName": REGULAR,
        "bulletFontSize": styles.BODY.fontSize,
        "bulletColor": styles.MUTED if ctx.quoted else styles.INK,
        "spaceAfter": 6,
    }
    if node.type == "ordered_list":
        start = node.attrs.get("start", 1)
        return ListFlowable(
            items,  # type: ignore[arg-type]  # types-reportlab omits ListItem, which it takes
            bulletType="1",
            start=int(start) if isinstance(start, int | str) else 1,
            bulletFormat="%s.",
            **common,
        )
    bullet = _BULLETS[min(ctx.list_depth, len(_BULLETS) - 1)]
    # types-reportlab omits ListItem from what ListFlowable takes.
    return ListFlowable(items, bulletType="bullet", start=bullet, **common)  # type: ignore[arg-type]


def _inline_children(node: SyntaxTreeNode) -> str:
    return "".join(_inline(child) for child in node.children)


def _inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "inline":
        return _inline_children(node)
    if kind in ("text", "code_inline", "html_inline"):
        return escape_markup(_clean_keep_edges(node.content))
    if kind == "softbreak":
        return " "
    if kind == "hardbreak":
        return "<br/>"
    if kind == "em":
        return f"<i>{_inline_children(node)}</i>"
    if kind == "strong":
        return f"<b>{_inline_children(node)}</b>"
    if kind == "link":
        label = _inline_children(node)
        href = str(node.attrs.get("href", ""))
        shown = _MARKDOWN.normalizeLinkText(href)
        plain = _plain_text(node)
        # Printed links are read, not clicked: keep the address when the label does not show it.
        if href.startswith(("http://", "https://")) and plain not in (href, shown):
            return f"{label} ({escape_markup(clean_inline(shown))})"
        return label
    if kind == "image":
        return _inline_children(node)
    return _inline_children(node)


def _plain_text(node: SyntaxTreeNode) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    return "".join(_plain_text(child) for child in node.children)


def _clean_keep_edges(text: str) -> str:
    """Like clean_inline, but keeps an edge space that separates the text from its neighbours."""
    cleaned = clean_inline(text)
    if not cleaned:
        return " " if text else ""
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() else ""
    return f"{lead}{cleaned}{trail}"
