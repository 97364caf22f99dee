"""The built-in corpora: text that ships with Python itself, so the demo needs no download.

``pydoc`` is the prose of the language reference that the standard library carries for ``help()``
(``pydoc_data.topics``: about 80 topics, 0.45 MB of plain text rendered from reStructuredText), cleaned
so that what a model learns from it is English rather than markup:

* heading underlines (rows of ``*``, ``=``, ``-``) are dropped; a model trained on them samples rows of
  hundreds of asterisks;
* tables, grammar productions (``::=``), interactive sessions (``>>>``), literal blocks (indented under a
  paragraph ending in ``:``) and any other paragraph that is not prose (fewer than 6 words, under 85 %
  letters and spaces, over 4 % code punctuation, or no closing punctuation) are dropped;
* emphasis asterisks and footnote marks (``[2]``) are removed, typographic quotes and dashes become
  ASCII, every paragraph is dedented, and a paragraph met again in a later topic (the topics overlap)
  is kept once.

What is left is about 0.2 MB of English (Python 3.10 to 3.13: 209,000 to 228,000 characters, 93 or 94
distinct) with no run of more than 4 identical characters. Building it takes about 0.1 s, so it is not
cached. ``zen`` is the Zen of Python from the ``this`` module (856 characters).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from collections.abc import Iterator

# The typographic characters Sphinx writes, as the ASCII a keyboard has (a smaller vocabulary).
_ASCII = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "—": "--", "–": "-"})
_RULE = re.compile(r"^\s*([^\w\s])\1{2,}\s*$")  # a heading underline or overline
_CODE = frozenset("()[]{}=<>|\\~^%@#$&+/_")
_EMPHASIS = re.compile(r"\*(\S(?:[^*\n]*?\S)?)\*")
_FOOTNOTE = re.compile(r" ?\[\d+\]")


def zen() -> str:
    """The Zen of Python (``import this`` prints it; its source holds it in rot13)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import this  # noqa: PLC0415
    return codecs.decode(this.s, "rot13")


def pydoc_prose(topics: dict[str, str] | None = None) -> str:
    """The prose paragraphs of ``pydoc_data.topics`` (or of ``topics``), cleaned as the module says.

    Raises ImportError where a distribution ships Python without ``pydoc_data``.
    """
    if topics is None:
        from pydoc_data import topics as module  # noqa: PLC0415

        topics = module.topics
    seen: set[str] = set()
    kept: list[str] = []
    for key in sorted(topics):  # a fixed order: the same text, hence the same vocabulary, every time
        for para in _prose_paragraphs(topics[key].translate(_ASCII)):
            if para not in seen:
                seen.add(para)
                kept.append(para)
    return "\n\n".join(kept) + "\n"


def _prose_paragraphs(text: str) -> Iterator[str]:
    lead: tuple[int, str] | None = None  # indentation and last line of the latest non-literal paragraph
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [line.rstrip() for line in block.split("\n") if line.strip() and not _RULE.match(line)]
        if not lines:
            continue
        indent = _indent(lines[0])
        # Sphinx indents a literal block (code, a shell session) under the paragraph that announces it
        literal = lead is not None and lead[1].endswith(":") and indent > lead[0]
        if literal:
            continue
        lead = (indent, lines[-1])
        if _is_prose(lines):
            para = "\n".join(line[min(indent, _indent(line)) :] for line in lines)
            yield _FOOTNOTE.sub("", _EMPHASIS.sub(r"\1", para))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_prose(lines: list[str]) -> bool:
    if any(line.lstrip().startswith(("+-", "|", ">>>", "...")) or "::=" in line for line in lines):
        return False
    body = " ".join(line.strip() for line in lines)
    letters = sum(c.isalpha() or c == " " for c in body)
    code = sum(c in _CODE for c in body)
    return len(body.split()) >= 6 and letters >= 0.85 * len(body) and code < 0.04 * len(body) and body[-1] in '.:?!)"'
