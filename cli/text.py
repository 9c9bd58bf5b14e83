"""Text from inputs (waiver reasons, owners, drill notes, messages), made safe for each output format.

Reviewed input is still input: a reason with a carriage return could forge a console line, a
control character makes a JUnit file invalid XML, and a pipe or a tag breaks a Markdown table or
injects markup into a pull-request comment. Each format has its one escaping function.
"""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, and Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Markdown's inline syntax and HTML (escaping the parentheses is enough to break a link).
_MARKDOWN = re.compile(r"([\\`*_{}()#+!|<>~])")


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
        char, f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def console(text: object) -> str:
    """One terminal line: control characters (escape sequences, CR, LF) shown as escapes."""
    return _CONTROL.sub(_visible, str(text))


def xml(text: object) -> str:
    """Text an XML document can hold (ElementTree escapes <, & and quotes itself)."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group(0)):04x}", str(text))


def markdown(text: object) -> str:
    """Literal text inside Markdown (a table cell, a list item): no markup, no HTML, one line."""
    return _MARKDOWN.sub(r"\\\1", console(text))
