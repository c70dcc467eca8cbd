"""Names and project-relative paths: the lexical security checks."""

from __future__ import annotations

import pytest

from sluice.config import check_relative_path, qualify


@pytest.mark.parametrize(
    "path",
    ["jobs/orders.sql", "./jobs/orders.sql", "jobs/../other/x.sql", "raw/orders/*.csv", "a..b/c"],
)
def test_relative_paths_inside_the_project_are_accepted(path: str) -> None:
    assert check_relative_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "path is empty"),
        ("   ", "path is empty"),
        ("/etc/passwd", "'/etc/passwd' is absolute; paths must be relative to the project"),
        ("C:/x.sql", "'C:/x.sql' is absolute; paths must be relative to the project"),
        ("C:x.sql", "'C:x.sql' is absolute; paths must be relative to the project"),
        (
            "//server/share/x",
            "'//server/share/x' is absolute; paths must be relative to the project",
        ),
        ("..", "'..' escapes the project directory via '..'"),
        ("../x.sql", "'../x.sql' escapes the project directory via '..'"),
        ("a/../../x.sql", "'a/../../x.sql' escapes the project directory via '..'"),
        ("./../x.sql", "'./../x.sql' escapes the project directory via '..'"),
        ("jobs\\x.sql", "'jobs\\\\x.sql' contains '\\'; use '/' as the path separator"),
        ("s3://bucket/x", "'s3://bucket/x' is a URL; expected a path relative to the project"),
        ("file:///etc/x", "'file:///etc/x' is a URL; expected a path relative to the project"),
        ("a\x00b", "path contains a NUL byte"),
    ],
)
def test_paths_that_could_leave_the_project_are_refused(path: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        check_relative_path(path)
    assert str(info.value) == reason


def test_qualify_adds_the_default_schema() -> None:
    assert qualify("orders") == "main.orders"
    assert qualify("staging.orders") == "staging.orders"
