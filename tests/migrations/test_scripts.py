"""Flyway naming, ordering and checksums."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sluice.errors import ConfigError
from sluice.migrations.scripts import flyway_checksum, load_scripts, version_key

from .conftest import write

# Flyway's own algorithm, run on the JVM: BufferedReader.readLine + java.util.zip.CRC32,
# BOM removed from the first line, the value cast to int (ChecksumCalculator).
JAVA = """
import java.io.*; import java.nio.charset.StandardCharsets; import java.nio.file.*;
import java.util.zip.CRC32;
public class Checksum {
  public static void main(String[] a) throws Exception {
    for (String f : a) {
      CRC32 crc = new CRC32();
      BufferedReader r = new BufferedReader(new StringReader(
          new String(Files.readAllBytes(Paths.get(f)), StandardCharsets.UTF_8)));
      String line = r.readLine();
      if (line != null) {
        if (line.startsWith("\\uFEFF")) line = line.substring(1);
        do { crc.update(line.getBytes(StandardCharsets.UTF_8)); }
        while ((line = r.readLine()) != null);
      }
      System.out.println((int) crc.getValue());
    }
  }
}
"""

SAMPLES = {
    "lf.sql": b"CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\n",
    "crlf.sql": b"CREATE TABLE a (id INT);\r\nINSERT INTO a VALUES (1);\r\n",
    "cr.sql": b"CREATE TABLE a (id INT);\rINSERT INTO a VALUES (1);",
    "bom.sql": b"\xef\xbb\xbfCREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);",
    "blank-lines.sql": b"\n\nSELECT 1;\n\n",
    "unicode.sql": "-- caf\u00e9 \u2603\nSELECT '\u00fc';\n".encode(),
    "empty.sql": b"",
    "large.sql": b"".join(f"INSERT INTO t VALUES ({i});\n".encode() for i in range(3000)),
}


def test_line_endings_bom_and_a_final_newline_do_not_change_the_checksum() -> None:
    values = {flyway_checksum(SAMPLES[n]) for n in ("lf.sql", "crlf.sql", "cr.sql", "bom.sql")}
    assert len(values) == 1
    assert flyway_checksum(b"SELECT 1;") == flyway_checksum(b"SELECT 1;\n")
    assert flyway_checksum(b"SELECT 1;") != flyway_checksum(b"SELECT 2;")
    assert flyway_checksum(b"") == 0


@pytest.mark.spark  # needs a JVM, as Spark does
def test_checksums_equal_the_jvm_running_flyways_algorithm(tmp_path: Path,
                                                           spark_runtime: None) -> None:
    for name, data in SAMPLES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "Checksum.java").write_text(JAVA)
    names = sorted(SAMPLES)
    proc = subprocess.run(["java", str(tmp_path / "Checksum.java"),
                           *[str(tmp_path / n) for n in names]],
                          capture_output=True, text=True, timeout=120, check=True)
    expected = [int(v) for v in proc.stdout.split()]
    assert [flyway_checksum(SAMPLES[n]) for n in names] == expected
    assert min(expected) < 0 < max(expected)  # both signs: the int32 cast is exercised


def test_versions_order_numerically_and_trailing_zeros_are_equal() -> None:
    versions = ["2.0.3", "1", "1.1", "10", "1.10", "1.2", "2"]
    assert sorted(versions, key=version_key) == ["1", "1.1", "1.2", "1.10", "2", "2.0.3", "10"]
    assert version_key("1.0") == version_key("1") == version_key("1_0")


def test_scripts_are_found_ordered_and_described(tmp_path: Path) -> None:
    m = tmp_path / "migrations"
    write(m, "V2__second.sql", "SELECT 2;")
    write(m, "V1_1__one_point_one.sql", "SELECT 11;")
    write(m, "V1__first_table.sql", "SELECT 1;")
    write(m, "U1__first_table.sql", "SELECT 0;")
    write(m, "R__views.sql", "-- sluice: engine=postgres\nSELECT 3;")
    write(m, "README.md", "not a migration")
    scripts = load_scripts(m)
    assert [(s.version, s.description) for s in scripts.versioned] == [
        ("1", "first table"), ("1.1", "one point one"), ("2", "second")]
    assert list(scripts.undo) == [(1,)]
    [r] = scripts.repeatable
    assert r.description == "views" and r.engines == {"postgres"} and not r.runs_on("duckdb")


def test_bad_names_and_duplicate_versions_are_refused(tmp_path: Path) -> None:
    m = tmp_path / "migrations"
    write(m, "V1__a.sql", "SELECT 1;")
    write(m, "V1.0__b.sql", "SELECT 1;")
    write(m, "create_table.sql", "SELECT 1;")
    write(m, "U7__ghost.sql", "SELECT 1;")
    with pytest.raises(ConfigError) as info:
        load_scripts(m)
    text = info.value.message
    assert "migrations/V1__a.sql: version 1.0 is also defined by V1.0__b.sql" in text or \
        "version 1 is also defined by" in text
    assert "migrations/create_table.sql: not a migration name" in text
    assert "U7__ghost.sql: undoes version 7, which no V script defines" in text


def test_directives_are_read_from_the_whole_header_and_not_after_it(tmp_path: Path) -> None:
    m = tmp_path / "migrations"
    header = "".join(f"-- line {i} of a long licence header\n" for i in range(12))
    write(m, "V1__late_marker.sql", header + "\n-- sluice: engine=redshift verbatim\n"
                                              "GRANT SELECT ON t TO GROUP analysts;\n")
    write(m, "V2__after_sql.sql", "SELECT 1;\n-- sluice: engine=redshift\n")
    scripts = load_scripts(m)
    first, second = scripts.versioned
    assert first.engines == {"redshift"} and first.verbatim
    assert not first.runs_on("duckdb") and not first.runs_on("postgres")
    assert second.engines == frozenset()  # a comment after the first statement is no header
