"""The release manifest: canonical JSON and digest."""

from __future__ import annotations

import json
import re

import pytest

from sluice.errors import ReleaseError
from sluice.release import Manifest
from sluice.release.manifest import unsafe_path_reason

D1 = "1" * 64
D2 = "2" * 64


def make(**overrides: object) -> Manifest:
    fields: dict[str, object] = {
        "project": "demo",
        "commit": "c" * 40,
        "author": "Ada <ada@example.com>",
        "committed_at": "2024-05-01T12:00:00+00:00",
        "created_at": "2024-05-02T00:00:00.000000Z",
        "message": "",
        "dirty": False,
        "files": {"b.sql": D2, "a.sql": D1},
        "jobs": {"orders": "f" * 64},
    }
    fields.update(overrides)
    return Manifest.create(**fields)  # type: ignore[arg-type]


def test_roundtrip_and_canonical_form() -> None:
    m = make(checks={"lint": {"passed": True}})
    text = m.to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert list(m.files) == ["a.sql", "b.sql"]
    again = Manifest.from_json(text)
    assert again == m
    assert again.to_json() == text
    assert m.id == m.digest[:12]
    assert m.compute_digest() == m.digest


def test_digest_covers_content_but_not_build_time() -> None:
    base = make()
    assert make(created_at="2030-01-01T00:00:00.000000Z").digest == base.digest
    assert make(files={"a.sql": D1}).digest != base.digest
    assert make(dirty=True).digest != base.digest
    assert make(message="hotfix").digest != base.digest
    assert make(jobs={}).digest != base.digest
    assert make(checks={"lint": "ok"}).digest != base.digest


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"id": "x"}', "missing field(s)"),
    ],
)
def test_from_json_rejects_malformed(text: str, needle: str) -> None:
    with pytest.raises(ReleaseError, match=re.escape(needle)):
        Manifest.from_json(text)


def test_from_json_rejects_bad_types_and_digests() -> None:
    data = json.loads(make().to_json())
    data["dirty"] = "no"
    with pytest.raises(ReleaseError, match="field 'dirty' is not true or false"):
        Manifest.from_json(json.dumps(data))
    data = json.loads(make().to_json())
    data["files"]["a.sql"] = "../../etc/passwd"
    with pytest.raises(ReleaseError, match=r"file 'a\.sql' has invalid digest"):
        Manifest.from_json(json.dumps(data))
    data = json.loads(make().to_json())
    data["extra"] = 1
    with pytest.raises(ReleaseError, match="unknown field"):
        Manifest.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "C:/x",
        "../x",
        "a/../../x",
        "a//b",
        "./a",
        "a\\b",
        ".git/config",
        ".sluice/state.db",
        ".sluice-release",
        "a\x00b",
    ],
)
def test_unsafe_paths(path: str) -> None:
    assert unsafe_path_reason(path) is not None


@pytest.mark.parametrize("path", ["a", "jobs/orders.sql", "..hidden", "a/.b/c", "é.sql"])
def test_safe_paths(path: str) -> None:
    assert unsafe_path_reason(path) is None
