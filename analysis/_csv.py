"""Read a delimited text file into DuckDB, and say in one line why one cannot be read.

The dialect is fixed rather than sniffed wherever the file itself tells us:
the delimiter is the most frequent of ``, ; TAB |`` in the header line, quotes
and escapes are RFC 4180's ``"``. Every value is read as text
(:mod:`analysis.clean` parses it). The encoding is UTF-8 unless a byte-order
mark says UTF-16, or ``[columns] encoding`` says otherwise; UTF-8, UTF-16 LE and
Latin-1 are read by DuckDB itself, any other Python codec through a UTF-8 copy
in the engine's temp directory.

DuckDB treats a carriage return outside quotes as a line end. pandas and
Python's ``csv`` module write a CR inside a field unquoted when lines end in
``\\n``, so when DuckDB refuses a file holding such bare CRs (a CR not followed
by LF), it reads a copy in which each bare CR is a private-use character, and
the CRs are put back in the loaded text: DuckDB's own parser and its checks
still decide everything else. When DuckDB still refuses a file, the reason is kept and the line is found
again here, because DuckDB's own line number is not reliable for errors found
by a parallel reader (it said ``Line: 1`` for line 1,002).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from analysis._rules import quote_ident, quote_literal
from analysis.errors import DataError, EmptyDataError

__all__ = [
    "CsvFile",
    "load_csv",
    "csv_error",
    "MAX_LINE_BYTES",
    "read_head",
    "check_head",
    "text_encoding",
    "delimiter",
]

# Python codec name -> DuckDB's name, for the encodings DuckDB decodes itself.
_NATIVE = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "latin-1", "utf-16": "utf-16", "utf-16-le": "utf-16"}
_DELIMITERS = (",", ";", "\t", "|")
MAX_LINE_BYTES = 2_000_000  # DuckDB's max_line_size default
_HEAD_BYTES = 1 << 16
_CR_MASK = "\ue000"  # a private-use character stands in for a bare CR while DuckDB parses
_BLOCK = 1 << 20


@dataclass(frozen=True)
class CsvFile:
    """A delimited file loaded as ``_file`` (``_row`` plus every column as text), and how it was decoded."""

    encoding: str
    columns: list[str]


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def read_head(path: Path) -> bytes:
    """The first bytes of the (decompressed) file, to sniff its encoding and delimiter."""
    try:
        with _open_bytes(path) as fh:
            return fh.read(_HEAD_BYTES)
    except (OSError, EOFError) as exc:  # a truncated or fake .gz
        raise DataError(f"cannot be read: {exc}.", path=path) from None


def text_encoding(head: bytes, configured: str | None) -> str:
    """The Python codec to read with: configured, else the byte-order mark's, else UTF-8."""
    if configured is not None:
        return configured
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


_UTF16_HINT = "it looks like UTF-16 without a byte-order mark; set [columns] encoding = 'utf-16-le' (or 'utf-16-be')."


def _looks_like_utf16(head: bytes) -> bool:
    """Many NUL bytes near the start: UTF-16 text (ASCII letters with a zero byte each), not UTF-8."""
    return head[:200].count(0) > min(20, len(head[:200]) // 4)


def delimiter(head: bytes, encoding: str) -> str | None:
    first = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[:1]
    counts = {d: first[0].count(d) for d in _DELIMITERS} if first else {}
    best = max(counts, key=counts.get, default=None)
    return best if best is not None and counts[best] > 0 else None


def _transcode(path: Path, encoding: str, workdir: Path) -> Path:
    """Write a UTF-8 copy of ``path`` (for codecs DuckDB cannot decode); a bad byte is a one-line error."""
    target = workdir / "transcoded.csv"
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 1
    with _open_bytes(path) as fin, target.open("w", encoding="utf-8", newline="") as fout:
        while True:
            block = fin.read(_BLOCK)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                where = lines + exc.object[: exc.start].decode(encoding, errors="replace").count("\n")
                raise DataError(
                    f"is not valid {encoding} text: byte 0x{exc.object[exc.start]:02x} on line {where:,} "
                    "cannot be decoded; set [columns] encoding to the file's encoding.",
                    path=path,
                ) from None
            fout.write(text)
            lines += text.count("\n")
            if not block:
                return target


def load_csv(con: duckdb.DuckDBPyConnection, path: Path, *, encoding: str | None, workdir: Path) -> CsvFile:
    """Load ``path`` as ``_file`` (see :func:`_number_rows`): ``_row`` (1-based data row) and every column as VARCHAR.

    Raises
    ------
    DataError
        The file cannot be decoded or parsed (one line: the reason and the line it is on).
    """
    head = read_head(path)
    check_head(head, path, encoding)
    codec = text_encoding(head, encoding)
    source = path
    if codec not in _NATIVE or (codec == "utf-16" and head.startswith(codecs.BOM_UTF16_BE)):
        source, codec_read, duck = _transcode(path, codec, workdir), "utf-8", "utf-8"
    else:
        codec_read, duck = codec, _NATIVE[codec]
    delim = delimiter(head, codec)
    # The rows are numbered in file order only while insertion order is kept.
    con.execute("SET preserve_insertion_order = true")
    try:
        try:
            con.execute(_create_sql(source, duck, delim))
        except duckdb.Error as exc:
            _recover(con, exc, path, source, codec_read, delim, workdir)
        _number_rows(con)
    finally:
        con.execute("SET preserve_insertion_order = false")
    columns = [row[0] for row in con.execute("DESCRIBE _file").fetchall()][1:]
    return CsvFile(encoding=codec, columns=columns)


def _number_rows(con: duckdb.DuckDBPyConnection) -> None:
    """``_file``: ``_row`` (the 1-based data row) and the columns of table ``_csv_rows``.

    The table was filled in file order, so a row's ``rowid`` is its place in the file: a view adds
    1 to it, where numbering the rows with ``row_number() OVER ()`` while they are read cost 0.3 to
    0.5 s more on the million lines of Online Retail II. A file with a column named ``rowid``
    hides that pseudo-column, and is numbered with ``row_number()`` instead.
    """
    names = [row[0].lower() for row in con.execute("DESCRIBE _csv_rows").fetchall()]
    if "rowid" not in names:
        con.execute("CREATE VIEW _file AS SELECT rowid + 1 AS _row, * FROM _csv_rows")
        return
    con.execute("CREATE TABLE _file AS SELECT row_number() OVER () AS _row, * FROM _csv_rows")
    con.execute("DROP TABLE _csv_rows")


def _create_sql(source: Path, encoding: str, delim: str | None) -> str:
    """CREATE TABLE ``_csv_rows`` from ``source``: RFC 4180 quoting, every column as text, in file order."""
    options = ["header = true", "all_varchar = true", "quote = '\"'", "escape = '\"'", f"encoding = '{encoding}'"]
    if delim is not None:
        options.append(f"delim = {quote_literal(delim)}")
    scan = f"read_csv({quote_literal(str(source))}, {', '.join(options)})"
    return f"CREATE TABLE _csv_rows AS SELECT * FROM {scan}"


def check_head(head: bytes, path: Path, encoding: str | None) -> None:
    """Refuse, before parsing, a file that is empty or plainly not delimited text."""
    if not head.strip():
        raise EmptyDataError("the file is empty (no header, no rows).", path=path)
    for magic, what in ((b"PK\x03\x04", "a ZIP archive (an Excel workbook? name it .xlsx)"), (b"PAR1", "Parquet")):
        if head.startswith(magic):
            raise DataError(f"is {what}, not CSV text.", path=path)
    if encoding is None and _looks_like_utf16(head) and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"is not UTF-8 text: {_UTF16_HINT}", path=path)


def _recover(con, exc: duckdb.Error, path: Path, source: Path, encoding: str, delim: str | None, workdir: Path) -> None:
    """A file DuckDB refused: read it again without its bare CRs when they are what is in the way, else explain."""
    try:
        if _first_undecodable(source, encoding) is not None:
            raise _decode_error(path, source, encoding)
        if "Maximum line size" in str(exc) or not _has_bare_cr(source, encoding):
            raise csv_error(exc, path, source=source, encoding=encoding, delim=delim)
        copy = _mask_bare_cr(path, source, encoding, workdir)
    except (OSError, EOFError) as err:  # a .gz that is cut short or corrupt
        raise DataError(f"cannot be read: {err}.", path=path) from None
    try:
        con.execute(_create_sql(copy, "utf-8", delim))
    except duckdb.Error as again:
        raise csv_error(again, path, source=copy, encoding="utf-8", delim=delim) from None
    columns = [row[0] for row in con.execute("DESCRIBE _csv_rows").fetchall()]
    undo = ", ".join(f"{quote_ident(c)} = replace({quote_ident(c)}, chr({ord(_CR_MASK)}), chr(13))" for c in columns)
    con.execute(f"UPDATE _csv_rows SET {undo}")


def _is_decode_error(message: str) -> bool:
    return "not utf-8 encoded" in message or "Invalid unicode" in message or "is not latin-1 encoded" in message


def _has_bare_cr(source: Path, encoding: str) -> bool:
    with _open_bytes(source) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        previous = ""
        while chunk := text.read(_BLOCK):
            joined = previous + chunk
            # A CR at the very end of a chunk may be half of a CRLF: decide it with the next chunk.
            cut = len(joined) - 1 if joined.endswith("\r") else len(joined)
            if "\r" in joined[:cut].replace("\r\n", ""):
                return True
            previous = joined[cut:]
    return previous == "\r"


def _mask_bare_cr(path: Path, source: Path, encoding: str, workdir: Path) -> Path:
    """A UTF-8 copy of ``source`` with every CR that is not part of a CRLF replaced by :data:`_CR_MASK`."""
    target = workdir / "masked.csv"
    with _open_bytes(source) as raw, target.open("w", encoding="utf-8", newline="") as out:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        carry = ""
        while chunk := text.read(_BLOCK):
            joined = carry + chunk
            if _CR_MASK in joined:
                raise DataError("holds the character U+E000, which reading its carriage returns needs.", path=path)
            # A CR at the very end may be half of a CRLF: keep it for the next chunk.
            cut = len(joined) - 1 if joined.endswith("\r") else len(joined)
            out.write(re.sub("\r(?!\n)", _CR_MASK, joined[:cut]))
            carry = joined[cut:]
        out.write(carry.replace("\r", _CR_MASK))
    return target


def csv_error(exc: duckdb.Error, path: Path, *, source: Path, encoding: str, delim: str | None) -> DataError:
    """One line for a file DuckDB cannot read: the reason, and the line found again by reading it here."""
    message = str(exc)
    if _is_decode_error(message):
        return _decode_error(path, source, encoding)
    if "Maximum line size" in message:
        line = _first_long_line(source)
        where = f"line {line:,}" if line else "a line"
        return DataError(
            f"cannot be read as CSV: {where} is longer than {MAX_LINE_BYTES:,} bytes (an unclosed quote?).", path=path
        )
    located = _first_bad_field_count(source, encoding, delim or ",")
    if located is not None:
        line, found, expected = located
        return DataError(
            f"cannot be read as CSV: line {line:,} has {found} fields where the header has {expected}.", path=path
        )
    return DataError(f"cannot be read as CSV: {_duckdb_reason(message)}", path=path)


def _duckdb_reason(message: str) -> str:
    """DuckDB's reason without its option dump: the first line plus the line saying what went wrong."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    reason = [line for line in lines[1:3] if not line.startswith(("Original Line", "The search space"))]
    return " ".join(lines[:1] + reason[:1]).removeprefix("Invalid Input Error: ")


def _decode_error(path: Path, source: Path, encoding: str) -> DataError:
    bad = _first_undecodable(source, encoding)
    if _looks_like_utf16(read_head(source)):
        hint = _UTF16_HINT
    else:
        hint = "set [columns] encoding to the file's encoding (e.g. 'latin-1', 'cp1252' or 'utf-16')."
    where = f"byte 0x{bad[1]:02x} on line {bad[0]:,}" if bad else "a byte"
    name = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "iso8859-1": "Latin-1"}.get(encoding, encoding)
    return DataError(f"is not {name} text: {where} cannot be decoded; {hint}", path=path)


def _first_undecodable(source: Path, encoding: str) -> tuple[int, int] | None:
    """(line, byte) of the first byte ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 1
    with _open_bytes(source) as fh:
        while True:
            block = fh.read(_BLOCK)
            try:
                lines += decoder.decode(block, final=not block).count("\n")
            except UnicodeDecodeError as exc:
                before = exc.object[: exc.start].decode(encoding, errors="replace")
                return lines + before.count("\n"), exc.object[exc.start]
            if not block:
                return None


def _first_long_line(source: Path) -> int | None:
    line, length = 1, 0
    with _open_bytes(source) as fh:
        while block := fh.read(_BLOCK):
            start = 0
            while (end := block.find(b"\n", start)) >= 0:
                if length + end - start > MAX_LINE_BYTES:
                    return line
                line, length, start = line + 1, 0, end + 1
            length += len(block) - start
            if length > MAX_LINE_BYTES:
                return line
    return None


def _first_bad_field_count(source: Path, encoding: str, delim: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first record whose field count differs from the header's."""
    with _open_bytes(source) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=delim, quotechar='"', doublequote=True)
        header = next(reader, None)
        if header is None:
            return None
        for row in reader:
            if row and len(row) != len(header):
                return reader.line_num, len(row), len(header)
    return None
