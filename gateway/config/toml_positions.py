"""Where each key of a TOML document is defined: key path -> (line, column).

``tomllib`` gives values without positions, so this scanner walks the same text a second time,
after ``tomllib`` has accepted it, and records the position of every key path (TOML v1.0.0):

* ``[a.b]`` headers, and ``[[a.b]]`` headers with their element index (``("a", "b", 2)``);
* dotted keys ``a.b.c = 1`` (the implicit tables ``a`` and ``a.b`` take the first line that
  creates them), bare, ``"basic"`` (with escapes decoded) and ``'literal'`` key parts;
* inline tables ``{ k = v }`` and array elements, one position per element, so an array of
  inline tables points at each element's line;
* strings of all four kinds, multi-line arrays and comments are skipped over, never read as keys.

Because the input is known to be valid TOML, the scanner only needs to find token boundaries;
it does not re-validate.  A path it cannot place is simply missing from the result (the caller
falls back to the enclosing table), so a scanner gap can blur a line number, never crash a load.
"""

from __future__ import annotations

from typing import Final

from gateway.config.located import KeyPath

Position = tuple[int, int]  # 1-based line and column

_BARE_KEY_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)
_SPACE: Final = " \t"
# A bare value (number, boolean, date-time) ends before one of these (TOML v1.0.0 s"Array",
# s"Inline Table"); a local date-time may contain a space, so whitespace does not end it.
_BARE_VALUE_END: Final = frozenset(",]}#\n\r")
# Basic-string escapes (TOML v1.0.0 s"String").
_ESCAPES: Final = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class _Scanner:
    __slots__ = ("aot_counts", "line", "line_start", "pos", "positions", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.positions: dict[KeyPath, Position] = {}
        # Concrete path of each array of tables -> elements seen so far.
        self.aot_counts: dict[KeyPath, int] = {}

    # -- cursor ------------------------------------------------------------------------------

    def here(self) -> Position:
        return (self.line, self.pos - self.line_start + 1)

    def move_to(self, end: int) -> None:
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.pos, end) + 1
        self.pos = end

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect_more(self) -> None:
        # Guards the loops against running off unterminated input (never valid TOML).
        if self.pos >= len(self.text):
            raise ValueError("unexpected end of document")

    def skip_space(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        self.pos = pos  # no newline crossed

    def skip_blank(self) -> None:
        """Spaces, newlines and comments (between array elements and top-level statements)."""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n":
                self.move_to(self.pos + 1)
            elif char == "#":
                end = text.find("\n", self.pos)
                self.move_to(len(text) if end < 0 else end)
            else:
                return

    # -- keys --------------------------------------------------------------------------------

    def key(self) -> tuple[list[str], Position]:
        """A dotted key; returns its decoded parts and the position of its first part."""
        start = self.here()
        parts = [self.key_part()]
        self.skip_space()
        while self.peek() == ".":
            self.pos += 1
            self.skip_space()
            parts.append(self.key_part())
            self.skip_space()
        return parts, start

    def key_part(self) -> str:
        char = self.peek()
        if char == '"':
            return self.basic_string()
        if char == "'":
            end = self.text.index("'", self.pos + 1)
            part = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return part
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] in _BARE_KEY_CHARS:
            self.pos += 1
        return text[start : self.pos]

    def basic_string(self) -> str:
        """A one-line ``"..."`` string, decoded (keys must compare equal to tomllib's)."""
        text = self.text
        pos = self.pos + 1
        out: list[str] = []
        while text[pos] != '"':
            char = text[pos]
            if char != "\\":
                out.append(char)
                pos += 1
                continue
            code = text[pos + 1]
            if code in ("u", "U"):
                width = 4 if code == "u" else 8
                out.append(chr(int(text[pos + 2 : pos + 2 + width], 16)))
                pos += 2 + width
            else:
                out.append(_ESCAPES[code])
                pos += 2
        self.pos = pos + 1
        return "".join(out)

    # -- values ------------------------------------------------------------------------------

    def value(self, path: KeyPath) -> None:
        char = self.peek()
        text = self.text
        if char == '"' or char == "'":
            triple = char * 3
            if text.startswith(triple, self.pos):
                self.multiline_string(triple)
            elif char == '"':
                self.basic_string()
            else:
                self.pos = text.index("'", self.pos + 1) + 1
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            pos = self.pos
            while pos < len(text) and text[pos] not in _BARE_VALUE_END:
                pos += 1
            self.pos = pos

    def multiline_string(self, triple: str) -> None:
        text = self.text
        pos = self.pos + 3
        while True:
            if triple == '"""' and text[pos] == "\\":
                pos += 2  # an escaped character, possibly a quote or a newline
                continue
            if text.startswith(triple, pos):
                break
            pos += 1
        end = pos + 3
        # Up to two quotes right before the closing delimiter belong to the content.
        extra = 0
        while extra < 2 and end < len(text) and text[end] == triple[0]:
            end += 1
            extra += 1
        self.move_to(end)

    def array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_blank()
            self.expect_more()
            if self.peek() == "]":
                self.pos += 1
                return
            element = (*path, index)
            self.positions[element] = self.here()
            before = self.pos
            self.value(element)
            if self.pos == before:
                raise ValueError("no array element here")
            index += 1
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self.skip_space()
            self.expect_more()
            if self.peek() == "}":
                self.pos += 1
                return
            self.key_value(path)
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1

    def key_value(self, table: KeyPath) -> None:
        parts, start = self.key()
        full = (*table, *parts)
        for depth in range(len(table) + 1, len(full)):
            self.positions.setdefault(full[:depth], start)
        self.positions[full] = start
        self.skip_space()
        self.pos += 1  # "="
        self.skip_space()
        self.value(full)

    # -- headers -----------------------------------------------------------------------------

    def concrete(self, parts: list[str]) -> KeyPath:
        """Header key parts -> concrete path, stepping into the last element of each array of
        tables on the way (TOML v1.0.0 s"Array of Tables")."""
        path: KeyPath = ()
        for part in parts:
            path = (*path, part)
            count = self.aot_counts.get(path)
            if count:
                path = (*path, count - 1)
        return path

    def header(self) -> KeyPath:
        start = self.here()
        is_array = self.text.startswith("[[", self.pos)
        self.pos += 2 if is_array else 1
        self.skip_space()
        parts, _ = self.key()
        self.pos += 2 if is_array else 1
        if is_array:
            prefix = self.concrete(parts[:-1])
            for depth in range(1, len(prefix) + 1):
                self.positions.setdefault(prefix[:depth], start)
            array_path = (*prefix, parts[-1])
            index = self.aot_counts.get(array_path, 0)
            self.aot_counts[array_path] = index + 1
            self.positions.setdefault(array_path, start)
            table = (*array_path, index)
        else:
            table = self.concrete(parts)
            for depth in range(1, len(table)):
                self.positions.setdefault(table[:depth], start)
        # An explicit header is the best place to point at, even after an implicit creation.
        self.positions[table] = start
        return table

    def document(self) -> dict[KeyPath, Position]:
        table: KeyPath = ()
        while True:
            self.skip_blank()
            char = self.peek()
            if not char:
                return self.positions
            if char == "[":
                table = self.header()
            else:
                self.key_value(table)


def toml_positions(text: str) -> dict[KeyPath, Position]:
    """Key path -> (line, column) for every key, table and array element of valid TOML ``text``.

    ``text`` must be a document ``tomllib`` accepts; on anything else the result is partial.
    """
    scanner = _Scanner(text)
    try:
        return scanner.document()
    except (IndexError, ValueError, KeyError):
        # Only reachable on text tomllib rejects; keep what was found so far.
        return scanner.positions
