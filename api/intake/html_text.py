"""HTML to plain text with the stdlib parser: blocks become lines, quotes keep a ``>`` mark.

E-mail clients put earlier messages in ``<blockquote>`` (and Gmail in ``div.gmail_quote``); they
are rendered with ``> `` prefixes so the quote splitter treats HTML and plain mail alike.
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


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.quote_stack: list[bool] = []  # per open div/blockquote: does it open a quote?

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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self.skip_depth += 1
            return
        if tag in BLOCKS:
            self._break()
        elif tag in CELLS and self.current:
            self.current.append(" ")
        if tag in ("blockquote", "div"):
            classes = dict(attrs).get("class") or ""
            opens = tag == "blockquote" or any(c in classes for c in QUOTE_CLASSES)
            self.quote_stack.append(opens)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag in BLOCKS:
            self._break()
        if tag in ("blockquote", "div") and self.quote_stack:
            self.quote_stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.current.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: paragraphs as lines, quoted blocks prefixed with ``> ``."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    parser._break()
    text = "\n".join(parser.lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
