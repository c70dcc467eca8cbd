"""Where things are in a JSON text: the line:column of any key or array item, by path.

Python's json module reports no positions, so :class:`JsonIndex` re-reads a text that
``json.loads`` has accepted and records where each object key and array item starts.
Duplicate keys keep the last one, as ``json.loads`` does.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_SPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SCALAR = re.compile(r"[^,\]}\s]+")  # numbers, true, false, null (NaN, Infinity)


@dataclass
class _Node:
    start: int  # offset of the value
    keys: dict[str, tuple[int, _Node]] = field(default_factory=dict)  # key -> (offset, value)
    items: list[_Node] = field(default_factory=list)


def _skip(text: str, i: int) -> int:
    match = _SPACE.match(text, i)
    return match.end() if match else i


def _string_end(text: str, i: int) -> int:
    match = _STRING.match(text, i)
    return match.end() if match else len(text)


def _parse(text: str, i: int) -> tuple[_Node, int]:
    """The value starting at ``i`` and the offset just past it (the text is valid JSON)."""
    node = _Node(i)
    opening = text[i : i + 1]
    if opening == "{":
        i = _skip(text, i + 1)
        while text[i] != "}":
            key_start = i
            i = _string_end(text, i)
            key = json.loads(text[key_start:i])
            i = _skip(text, _skip(text, i) + 1)  # past the ':'
            child, i = _parse(text, i)
            node.keys[key] = (key_start, child)
            i = _skip(text, i)
            if text[i] == ",":
                i = _skip(text, i + 1)
        return node, i + 1
    if opening == "[":
        i = _skip(text, i + 1)
        while text[i] != "]":
            child, i = _parse(text, i)
            node.items.append(child)
            i = _skip(text, i)
            if text[i] == ",":
                i = _skip(text, i + 1)
        return node, i + 1
    if opening == '"':
        return node, _string_end(text, i)
    match = _SCALAR.match(text, i)
    return node, match.end() if match else i + 1


class JsonIndex:
    """Positions of the keys and items of one valid JSON text."""

    def __init__(self, text: str) -> None:
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self._root = _parse(text, _skip(text, 0))[0]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        row = bisect.bisect_right(self._line_starts, offset) - 1
        return row + 1, offset - self._line_starts[row] + 1

    def locate(self, path: Sequence[str | int], within: int | None = None) -> tuple[int, int]:
        """(line, column) of the key (or array item) at ``path``, e.g. ("States", "Load",
        "Next"); of the closest existing ancestor when the path goes further than the text.
        With ``within``, of that character of the string value at ``path`` instead (counted
        in the string as written; escapes make it approximate)."""
        node, offset, found = self._root, self._root.start, True
        for part in path:
            if isinstance(part, str) and part in node.keys:
                offset, node = node.keys[part]
            elif isinstance(part, int) and 0 <= part < len(node.items):
                node = node.items[part]
                offset = node.start
            else:
                found = False
                break
        if within is not None and found:
            offset = node.start + 1 + within  # past the opening quote
        return self.position(offset)
