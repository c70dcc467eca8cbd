"""Where a local run may read and write, and which files a read covers (no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest
from awsglue._errors import GlueLocationError
from awsglue._locations import Locations, exclusion_patterns, glob_regex, list_files
from awsglue._run import RunContext, Table


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("**.txt", "a/b/c.txt", True),
    ("*.txt", "a/c.txt", False),
    ("*.txt", "c.txt", True),
    ("2024/**", "2024/01/x.json", True),
    ("day?.json", "day1.json", True),
    ("day?.json", "day10.json", False),
    ("{a,b}/*.csv", "b/x.csv", True),
    ("[!x]*.csv", "x1.csv", False),
])
def test_glue_globs(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_exclusions_are_a_json_list_in_a_string() -> None:
    assert len(exclusion_patterns('["**.pdf", "**.txt"]', "read")) == 2
    assert exclusion_patterns(None, "read") == []
    with pytest.raises(GlueLocationError, match="JSON list of glob patterns"):
        exclusion_patterns("**.pdf", "read")


def test_s3_uris_only_when_the_run_names_them(tmp_path: Path) -> None:
    run = RunContext(job="j", tables={"raw.a": Table("s3://bucket/raw/a/", "json")},
                     outputs={"cur.b": str(tmp_path / "out")})
    where = Locations(run)
    assert where.resolve("s3://bucket/raw/a/day=1/x.json", "read") == (
        "s3://bucket/raw/a/day=1/x.json")
    with pytest.raises(GlueLocationError, match=r"\$\{input:raw\.persons\}"):
        where.resolve("s3://bucket/raw/other/", "read")
    assert where.resolve(f"file://{tmp_path}/out/", "write") == str(tmp_path / "out")
    where.check_writable(str(tmp_path / "out" / "part"), "write")
    with pytest.raises(GlueLocationError, match="outside this run's outputs"):
        where.check_writable(str(tmp_path / "out-other"), "write")
    assert where.output_of(str(tmp_path / "out" / "x=1")) == "cur.b"
    # outside a sluice run every local path is the script's own
    Locations(RunContext()).check_writable(str(tmp_path / "anywhere"), "write")


def test_listing_skips_hidden_files_and_keeps_mtimes(tmp_path: Path) -> None:
    (tmp_path / "k=1").mkdir()
    for name in ("a.csv", "_SUCCESS", ".a.csv.crc", "k=1/b.csv"):
        (tmp_path / name).write_text("x")
    found = list_files([str(tmp_path)], recurse=False, exclusions=[])
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in found] == ["a.csv",
                                                                              "k=1/b.csv"]
    assert all(f.root == str(tmp_path) and f.mtime_ns > 0 for f in found)
    assert list_files([str(tmp_path / "missing")], recurse=True, exclusions=[]) == []


def test_a_dot_dot_in_an_s3_uri_never_counts_as_inside(tmp_path: Path) -> None:
    run = RunContext(job="j", outputs={"cur.b": "s3://b/envs/dev/tmp/out/x/"},
                     temp_dir="s3://b/envs/dev/tmp/")
    where = Locations(run)
    where.check_writable("s3://b/envs/dev/tmp/out/x/part-0", "write")
    for sneaky in ("s3://b/envs/dev/tmp/out/x/../../../published/",
                   "s3://b/envs/dev/tmp/./out/x/"):
        with pytest.raises(GlueLocationError, match="outside this run's outputs"):
            where.check_writable(sneaky, "write")
