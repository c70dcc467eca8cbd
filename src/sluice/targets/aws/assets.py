"""A packaged template made deployable in one environment: each placeholder the release
build left (:mod:`sluice.stacks.packaging`) becomes the S3 location of its artifact, uploaded
once to the environment's artifact bucket under a key named by its content
(``<prefix>/assets/<sha256>.<ext>``: the same key in every environment). A nested template
is resolved first and uploaded as a template, and its URL substituted."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from sluice.errors import ReleaseError
from sluice.stacks import ASSETS_DIR
from sluice.stacks.packaging import TEMPLATE_SUFFIX
from sluice.targets.aws.session import AwsSession
from sluice.targets.aws.stacks import TemplateStore

_TOKEN = re.compile(r"%%sluice:(?P<kind>bucket|key|url)(?::(?P<asset>[0-9a-f]{64}"
                    r"(?:\.[A-Za-z0-9]{1,12})?))?%%")


@dataclass
class Assets:
    """Uploads a release's artifacts for one environment (each at most once per deploy)."""

    aws: AwsSession
    store: TemplateStore
    release_dir: Path
    _keys: dict[str, str] = field(default_factory=dict)  # asset → its key
    _urls: dict[str, str] = field(default_factory=dict)  # nested template → its URL
    _active: list[str] = field(default_factory=list)

    def resolve(self, text: str) -> str:
        """``text`` with every placeholder replaced by an S3 location."""
        return _TOKEN.sub(self._value, text)

    def _value(self, match: re.Match[str]) -> str:
        kind, asset = match["kind"], match["asset"]
        if kind == "bucket":
            return self.store.bucket
        if asset is None:
            raise ReleaseError(f"a packaged template has a malformed placeholder "
                               f"{match.group(0)!r}", tip="rebuild the release")
        if kind == "url":
            return self._template_url(asset)
        return self._key(asset)

    def _read(self, asset: str) -> bytes:
        path = self.release_dir / ASSETS_DIR / asset
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ReleaseError(f"the release has no artifact {ASSETS_DIR}/{asset}",
                               tip="rebuild the release with `sluice release`") from exc
        if hashlib.sha256(data).hexdigest() != asset[:64]:
            raise ReleaseError(f"artifact {ASSETS_DIR}/{asset} does not match its digest",
                               tip="the release folder was altered: deploy it again")
        return data

    def _key(self, asset: str) -> str:
        if asset not in self._keys:
            key = self.store.key("assets", asset)
            self.store.upload(self.aws, key, self._read(asset))
            self._keys[asset] = key
        return self._keys[asset]

    def _template_url(self, asset: str) -> str:
        if not asset.endswith(TEMPLATE_SUFFIX):
            raise ReleaseError(f"{ASSETS_DIR}/{asset} is not a nested template",
                               tip="rebuild the release")
        if asset not in self._urls:
            if asset in self._active:  # the build refuses cycles; belt and braces
                raise ReleaseError(f"nested template {asset} includes itself")
            self._active.append(asset)
            try:
                body = self.resolve(self._read(asset).decode("utf-8"))
            finally:
                self._active.pop()
            self._urls[asset] = self.store.put_template(self.aws, body.encode("utf-8"))
        return self._urls[asset]
