"""HTML to plain text with the stdlib parser: blocks become lines, quotes keep a ``>`` mark.

E-mail clients put earlier messages in ``<blockquote>`` (and Gmail in ``div.gmail_quote``); they
are rendered with ``> `` prefixes so the quote splitter treats HTML and plain mail alike. Text the
sender's mail program does not show (``display: none``, ``visibility: hidden``, the ``hidden``
attribute) is left out: what the requester never saw is no part of the ticket, and such text is
where orders meant for a model hide.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

SKIP = {"script", "style", "head", "title", "template"}
BLOCKS = {
    "p",
    "div",
    "br",
    "tr",
    "li",
    "ul",
    "ol",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "dl",
    "dt",
    "dd",
    "caption",
}
CELLS = {"td", "th"}  # a table row is one line, its cells apart: "Error ORA-01652", not "ErrorORA-"
QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted")
# Elements that never have content or an end tag.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# HTML's implied end tags: an open <p> ends where a block starts, an <li> at the next <li>, a
# cell at the next cell or row, a row at the next row; with what is open inside it, unless one
# of the walls named beside it stands in between.
WALLS = {"table", "td", "th", "caption", "button", "object", "template", "html"}
TABLE_WALLS = {"table", "template", "html"}
ENDS_P = BLOCKS - {"br"} | {"li", "td", "th"}
IMPLIED_END: dict[str, tuple[set[str], set[str]]] = {
    "li": ({"li"}, WALLS | {"ul", "ol"}),
    "td": ({"td", "th"}, TABLE_WALLS | {"tr"}),
    "th": ({"td", "th"}, TABLE_WALLS | {"tr"}),
    "tr": ({"tr"}, TABLE_WALLS),
}
HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\b", re.I)


def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
    """Whether an element's own attributes keep it from being shown."""
    for name, value in attrs:
        if name == "hidden" or (name == "style" and value and HIDDEN_STYLE.search(value)):
            return True
    return False


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.quote_stack: list[bool] = []  # per open div/blockquote: does it open a quote?
        self.open: list[tuple[str, bool]] = []  # the open elements, each hidden by itself or not
        self.hidden_depth = 0  # how many of them are hidden

    @property
    def quote_level(self) -> int:
        return sum(self.quote_stack)

    def _break(self) -> None:
        text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", "".join(self.current)).strip()
        self.current = []
        if text:
            self.lines.append("> " * self.quote_level + text)
        elif self.lines and self.lines[-1]:
            self.lines.append("")

    def _close(self, tag: str) -> None:
        """Close the innermost open ``tag`` and what is open inside it; nothing if none is."""
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                self.hidden_depth -= sum(hidden for _, hidden in self.open[i:])
                del self.open[i:]
                return

    def _end_implied(self, ends: set[str], walls: set[str]) -> None:
        """Close the innermost open element of ``ends`` unless a wall stands before it."""
        for name, _ in reversed(self.open):
            if name in ends:
                self._close(name)
                return
            if name in walls:
                return

    def _track(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ENDS_P:
            self._end_implied({"p"}, WALLS)
        if tag in IMPLIED_END:
            self._end_implied(*IMPLIED_END[tag])
        if tag not in VOID:
            hidden = _hidden(attrs)
            self.open.append((tag, hidden))
            self.hidden_depth += hidden

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self.skip_depth += 1
            return
        self._track(tag, attrs)
        if tag in BLOCKS:
            self._break()
        elif tag in CELLS and self.current:
            self.current.append(" ")
        if tag in ("blockquote", "div"):
            classes = dict(attrs).get("class") or ""
            opens = tag == "blockquote" or any(c in classes for c in QUOTE_CLASSES)
            self.quote_stack.append(opens)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            return  # <script/>: nothing inside
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        self._close(tag)
        if tag in BLOCKS:
            self._break()
        if tag in ("blockquote", "div") and self.quote_stack:
            self.quote_stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip_depth and not self.hidden_depth:
            self.current.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: paragraphs as lines, quoted blocks prefixed with ``> ``."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    parser._break()
    text = "\n".join(parser.lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
