"""Loading: format detection, recognised shapes, role mapping errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from analysis.config import ColumnsConfig
from analysis.errors import DataError, EmptyDataError, SchemaMappingError
from analysis.load import load_transactions
from tests._data import DATA, SAMPLE


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("header", "shape", "level"),
    [
        (
            "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country",
            "online_retail_ii",
            "transactions",
        ),
        (
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
            "online_retail",
            "transactions",
        ),
        ("customer_id,date,number_of_cds,dollar_value", "cdnow", "transactions"),
        ("customer_id,sample_id,date,number_of_cds,dollar_value", "cdnow", "transactions"),
        ("CustomerID,PurchaseAmount,PurchaseFrequency,Recency,AvgUnitCost", "customer_data", "customers"),
    ],
    ids=["online-retail-ii", "online-retail", "cdnow-master", "cdnow-sample", "customer-data"],
)
def test_known_shapes_need_no_config(tmp_path, header, shape, level):
    n = len(header.split(","))
    path = _write(tmp_path / "x.csv", header + "\n" + ",".join(["1"] * n) + "\n")
    loaded = load_transactions(path, columns=ColumnsConfig())
    assert (loaded.source.shape, loaded.source.level) == (shape, level)
    assert loaded.rows_in == 1


def test_csv_gz_and_parquet_give_the_same_rows(tmp_path):
    src = DATA / "tiny_retail.csv"
    gz = tmp_path / "tiny.csv.gz"
    with src.open("rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    pq = tmp_path / "tiny.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{src}', all_varchar=true)) TO '{pq}' (FORMAT parquet)")
    frames = []
    for path in (src, gz, pq):
        loaded = load_transactions(path, columns=ColumnsConfig())
        frames.append(loaded.con.execute("SELECT * EXCLUDE (_row) FROM raw ORDER BY _row").fetchall())
        assert loaded.rows_in == 15
    assert frames[0] == frames[1] == frames[2]
    assert load_transactions(gz, columns=ColumnsConfig()).source.format == "csv.gz"


def test_source_checksum_is_of_the_file_bytes(tmp_path):
    import hashlib

    loaded = load_transactions(DATA / "tiny_retail.csv", columns=ColumnsConfig())
    assert loaded.source.sha256 == hashlib.sha256((DATA / "tiny_retail.csv").read_bytes()).hexdigest()
    assert loaded.source.name == "tiny_retail.csv"


def test_custom_columns_through_config(tmp_path):
    path = _write(
        tmp_path / "shop.csv",
        "client,when,total,sku\nx1,2020-01-01,10.5,P\nx2,2020-01-02,3,Q\n",
    )
    cfg = ColumnsConfig(customer="client", timestamp="when", amount="total", product="sku")
    loaded = load_transactions(path, columns=cfg)
    assert loaded.source.shape == "custom"
    assert loaded.roles == {"customer": "client", "timestamp": "when", "amount": "total", "product": "sku"}


def test_unmapped_file_lists_every_missing_role_and_the_columns_found(tmp_path):
    path = _write(tmp_path / "odd.csv", "foo,bar,baz\n1,2,3\n")
    with pytest.raises(SchemaMappingError) as info:
        load_transactions(path, columns=ColumnsConfig())
    text = str(info.value)
    assert "odd.csv" in text
    for role in ("customer", "timestamp", "amount"):
        assert role in text
    assert "['foo', 'bar', 'baz']" in text


def test_config_naming_an_absent_column(tmp_path):
    path = _write(tmp_path / "a.csv", "c,t,v\n1,2020-01-01,3\n")
    with pytest.raises(SchemaMappingError, match=r"customer='client'"):
        load_transactions(path, columns=ColumnsConfig(customer="client", timestamp="t", amount="v"))


def test_empty_and_header_only_files(tmp_path):
    empty = _write(tmp_path / "empty.csv", "")
    with pytest.raises(EmptyDataError, match="empty.csv.*empty"):
        load_transactions(empty, columns=ColumnsConfig())
    header = _write(tmp_path / "header.csv", "customer_id,date,number_of_cds,dollar_value\n")
    with pytest.raises(EmptyDataError, match="no data rows"):
        load_transactions(header, columns=ColumnsConfig())


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_transactions(tmp_path / "nope.csv", columns=ColumnsConfig())
    with pytest.raises(DataError, match="unsupported file type"):
        load_transactions(_write(tmp_path / "x.json", "a"), columns=ColumnsConfig())
    with pytest.raises(DataError, match=r"x.xlsx: cannot be read as an Excel workbook: .*Zip"):
        load_transactions(_write(tmp_path / "x.xlsx", "a"), columns=ColumnsConfig())


def test_bundled_sample_is_recognised():
    loaded = load_transactions(SAMPLE, columns=ColumnsConfig())
    assert loaded.source.shape == "online_retail_ii"
    assert loaded.source.format == "parquet"
    assert loaded.rows_in == 526_151


# ------------------------------------------------------------------ CSV errors and encodings (issue 7, item 14)

LINE = "{i},A,mug,1,2011-01-01 10:00:00,2,7,UK\n"
HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"


def _thousand_lines_then(tmp_path: Path, last: bytes, name: str = "x.csv") -> Path:
    """A header, 1,000 good data lines (file lines 2-1,001), then ``last`` on line 1,002."""
    path = tmp_path / name
    path.write_bytes((HEADER + "".join(LINE.format(i=i) for i in range(1, 1001))).encode() + last)
    return path


def test_a_non_utf8_byte_is_reported_with_its_line_and_the_encoding_setting(tmp_path):
    path = _thousand_lines_then(tmp_path, "1001,A,caf\xe9,1,2011-01-01 10:00:00,2,7,UK\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        load_transactions(path, columns=ColumnsConfig())
    text = str(info.value)
    assert "is not UTF-8 text: byte 0xe9 on line 1,002" in text and "[columns] encoding" in text
    assert "\n" not in text


def test_a_line_too_long_is_reported_with_its_line(tmp_path):
    path = _thousand_lines_then(tmp_path, b"1001,A," + b"x" * 2_100_000 + b",1,2011-01-01 10:00:00,2,7,UK\n")
    with pytest.raises(DataError, match=r"x.csv: cannot be read as CSV: line 1,002 is longer than 2,000,000 bytes"):
        load_transactions(path, columns=ColumnsConfig())


def test_a_short_line_is_reported_with_its_line_and_field_counts(tmp_path):
    path = _thousand_lines_then(tmp_path, b"1001,A,mug,1\n" + LINE.format(i=1002).encode())
    with pytest.raises(DataError, match=r"line 1,002 has 4 fields where the header has 8"):
        load_transactions(path, columns=ColumnsConfig())


def _descriptions(path: Path, columns: ColumnsConfig | None = None) -> list[str]:
    loaded = load_transactions(path, columns=columns or ColumnsConfig())
    return [row[0] for row in loaded.con.execute("SELECT description FROM raw ORDER BY _row").fetchall()]


@pytest.mark.parametrize(
    ("configured", "codec", "text"),
    [
        ("latin-1", "latin-1", "café £5"),
        ("cp1252", "cp1252", "café €5"),
        ("utf-16", "utf-16", "café €5"),
        (None, "utf-16", "café €5"),  # the byte-order mark says UTF-16 (little-endian)
        (None, "utf-16-be-bom", "café €5"),  # big-endian with its byte-order mark
        (None, "utf-8-sig", "café €5"),
    ],
    ids=["latin-1", "cp1252-transcoded", "utf-16-configured", "utf-16-bom", "utf-16-be-bom", "utf-8-bom"],
)
def test_encodings(tmp_path, configured, codec, text):
    body = HEADER + f'1,A,"{text}",1,2011-01-01 10:00:00,2,7,UK\n'
    data = b"\xfe\xff" + body.encode("utf-16-be") if codec == "utf-16-be-bom" else body.encode(codec)
    path = tmp_path / "enc.csv"
    path.write_bytes(data)
    loaded = load_transactions(path, columns=ColumnsConfig(encoding=configured))
    assert loaded.columns_found[0] == "Invoice"
    assert _descriptions(path, ColumnsConfig(encoding=configured)) == [text]
    assert loaded.source.encoding is not None


def test_utf16_without_a_byte_order_mark_gets_a_hint(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes((HEADER + LINE.format(i=1)).encode("utf-16-le"))
    with pytest.raises(DataError, match=r"looks like UTF-16 without a byte-order mark.*utf-16-le"):
        load_transactions(path, columns=ColumnsConfig())
    assert _descriptions(path, ColumnsConfig(encoding="utf-16-le")) == ["mug"]


def test_an_unknown_encoding_name_is_a_config_error():
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        ColumnsConfig(encoding="klingon")


def test_carriage_returns_inside_fields_are_kept(tmp_path):
    # pandas and csv.writer write a CR inside a field unquoted when lines end in \n; DuckDB's
    # sniffer refused that file. A quoted CR is read by DuckDB itself.
    import pandas as pd

    frame = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3"],
            "date": ["19970101", "19970102", "19970103"],
            "number_of_cds": ["1", "2", "3"],
            "dollar_value": ["1.5", "2.5", "3.5"],
            "note": ["two\rlines", "plain", "a\r\rb"],
        }
    )
    unquoted = tmp_path / "unquoted.csv"
    frame.to_csv(unquoted, index=False)
    assert b"two\rlines" in unquoted.read_bytes()
    quoted = tmp_path / "quoted.csv"
    frame.to_csv(quoted, index=False, quoting=1)
    for path in (unquoted, quoted):
        loaded = load_transactions(path, columns=ColumnsConfig())
        assert loaded.rows_in == 3
        notes = loaded.con.execute("SELECT _src_4 FROM raw ORDER BY _row").fetchall()
        assert [n[0] for n in notes] == ["two\rlines", "plain", "a\r\rb"]


# --------------------------------------------------------------------------- typed inputs and the engine (issue 11)


def test_parquet_is_a_view_with_its_types_kept(tmp_path):
    import pandas as pd

    path = tmp_path / "typed.parquet"
    pd.DataFrame(
        {
            "customer_id": [1.0, float("nan")],
            "date": pd.to_datetime(["1997-01-01 10:00", "1997-01-02 00:00"]),
            "number_of_cds": [1, 2],
            "dollar_value": [9.99, 5.0],
        }
    ).to_parquet(path)
    loaded = load_transactions(path, columns=ColumnsConfig())
    kinds = dict(loaded.con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["raw"] == "VIEW" and kinds["_file"] == "VIEW"
    assert loaded.types["timestamp"].startswith("TIMESTAMP") and loaded.types["quantity"] == "BIGINT"
    assert loaded.con.execute("SELECT _row FROM raw ORDER BY _row").fetchall() == [(1,), (2,)]


def test_engine_memory_limit_and_a_temp_dir_that_goes_with_the_connection(tmp_path):
    import gc

    from analysis.config import EngineConfig

    parent = tmp_path / "spill"
    engine = EngineConfig(memory_limit="1GB", temp_directory=parent)
    loaded = load_transactions(DATA / "tiny_retail.csv", columns=ColumnsConfig(), engine=engine)
    limit, temp = loaded.con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    assert limit in {"953.6 MiB", "1.0 GB", "1000.0 MB"}, limit
    (private,) = list(parent.iterdir())
    assert Path(temp).parent == private and private.name.startswith("segmentation-")
    del loaded
    gc.collect()
    assert list(parent.iterdir()) == []


def test_column_names_with_quotes_and_timezones(tmp_path):
    import pandas as pd

    path = tmp_path / "tz.parquet"
    pd.DataFrame(
        {
            'client "id"': ["a", "b"],
            "when": pd.to_datetime(["2011-01-01 10:00+02:00", "2011-01-02 10:00+02:00"]),
            "total": [1.0, 2.0],
        }
    ).to_parquet(path)
    cfg = ColumnsConfig(customer='client "id"', timestamp="when", amount="total")
    loaded = load_transactions(path, columns=cfg)
    from analysis.clean import clean_transactions
    from analysis.config import CleaningConfig

    cleaned = clean_transactions(loaded, config=CleaningConfig())
    first = cleaned.loaded.con.execute("SELECT min(ts) FROM clean").fetchone()[0]
    assert first.isoformat() == "2011-01-01T08:00:00"  # UTC, whatever the machine's zone


def test_the_readme_configuration_example_is_valid(tmp_path):
    # The documented keys ([columns] date_format and encoding, [cleaning] bounds, [engine]) must be real ones.
    from analysis.config import load_config
    from tests._data import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Configuration") :]
    example = section[section.index("```toml") + len("```toml") : section.index("```", section.index("```toml") + 7)]
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    config = load_config(path)
    assert config.columns.date_format == "%d/%m/%Y %H:%M" and config.columns.encoding == "cp1252"
    assert config.cleaning.max_abs_number == 1e12 and config.cleaning.max_date.isoformat() == "2011-12-31"
    assert config.engine.memory_limit == "3GB"


def test_files_that_are_not_csv_text_say_what_they_are(tmp_path):
    empty_gz = tmp_path / "empty.csv.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    with pytest.raises(EmptyDataError, match=r"empty.csv.gz: the file is empty"):
        load_transactions(empty_gz, columns=ColumnsConfig())
    workbook = tmp_path / "export.csv"
    workbook.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(DataError, match=r"export.csv: is a ZIP archive \(an Excel workbook\? name it .xlsx\)"):
        load_transactions(workbook, columns=ColumnsConfig())
    body = (DATA / "tiny_retail.csv").read_bytes()
    cut = tmp_path / "cut.csv.gz"
    whole = gzip.compress(body + b"".join(body.split(b"\n", 1)[1].replace(b"1001,", b"%d," % i) for i in range(4000)))
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut.csv.gz: cannot be read: Compressed file ended"):
        load_transactions(cut, columns=ColumnsConfig())


def test_bare_carriage_returns_with_crlf_lines_and_a_short_row(tmp_path):
    header = "customer_id,date,number_of_cds,dollar_value,note"
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(f"{header}\r\n1,19970101,1,1.5,a\rb\r\n2,19970102,2,2.5,c\r\n".encode())
    loaded = load_transactions(crlf, columns=ColumnsConfig())
    assert loaded.con.execute("SELECT _src_4 FROM raw ORDER BY _row").fetchall() == [("a\rb",), ("c",)]
    # The bare CR does not hide a broken row: DuckDB's parser still checks every line.
    short = tmp_path / "short.csv"
    short.write_bytes(f"{header}\n1,19970101,1,1.5,a\rb\n2,19970102\n".encode())
    with pytest.raises(
        DataError, match=r"short.csv: cannot be read as CSV: line 3 has 2 fields where the header has 5"
    ):
        load_transactions(short, columns=ColumnsConfig())


@pytest.mark.parametrize("extra", ["", ",rowid"], ids=["rowid-from-the-table", "a-column-named-rowid"])
def test_csv_rows_are_numbered_in_file_order(tmp_path, extra):
    # 300,000 lines: DuckDB reads them in parallel chunks, and _row must still be the line's place.
    n = 300_000
    header = "customer_id,date,number_of_cds,dollar_value" + extra
    lines = [f"{i % 977},1997{1 + i % 12:02d}{1 + i % 28:02d},{i},1.5" + (",x" if extra else "") for i in range(n)]
    path = _write(tmp_path / "numbered.csv", header + "\n" + "\n".join(lines) + "\n")
    loaded = load_transactions(path, columns=ColumnsConfig())
    rows = loaded.con.execute("SELECT min(_row), max(_row), count(DISTINCT _row) FROM raw").fetchone()
    assert rows == (1, n, n)
    wrong = loaded.con.execute('SELECT count(*) FROM raw WHERE CAST("quantity" AS BIGINT) <> _row - 1').fetchone()
    assert wrong == (0,)
