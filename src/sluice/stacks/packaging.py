"""Package a template's local artifacts into the release, as ``aws cloudformation package``
does, but once, at release time: every environment then deploys the same bytes.

A local path in one of :data:`PROPERTIES` is resolved against the template's folder and must
name files of the release (inside the project, committed). A folder is zipped
deterministically (:mod:`sluice.release.zips`); a file is taken as it is (zipped where the
property only takes a zip). Each artifact becomes ``_sluice_build/assets/<sha256>.<ext>``;
a nested template (``AWS::CloudFormation::Stack`` ``TemplateURL``, ``AWS::Serverless::
Application`` ``Location``) is packaged the same way, recursively. The property's value
becomes a placeholder in the form the property takes (:func:`placeholder`), which the aws
target replaces with the artifact's S3 location at deploy. S3 and HTTPS locations and
intrinsic functions are left alone.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sluice.errors import ReleaseError
from sluice.release.zips import zip_entries
from sluice.stacks import ASSETS_DIR
from sluice.stacks.templates import Template, dump, line_of, load_template

#: how the property takes an S3 location: ``s3://bucket/key``, a mapping with the bucket and
#: key under these names, or an ``https://`` URL of a template
Form = tuple[str, str] | Literal["s3", "url"]
#: a folder is zipped; "zip": a file is zipped too unless it is already a zip or jar;
#: "file": a file only, as it is; "template": a nested template, packaged recursively
Kind = Literal["zip", "file", "template"]


@dataclass(frozen=True)
class Packaged:
    """One property ``aws cloudformation package`` uploads local artifacts of."""

    resource_type: str
    path: tuple[str, ...]  # in the resource's Properties
    form: Form
    kind: Kind


_BK = ("Bucket", "Key")
_S3BK = ("S3Bucket", "S3Key")
#: the properties of `aws cloudformation package` (AWS CLI reference, "package")
PROPERTIES = (
    Packaged("AWS::ApiGateway::RestApi", ("BodyS3Location",), _BK, "file"),
    Packaged("AWS::ApiGatewayV2::Api", ("BodyS3Location",), _BK, "file"),
    Packaged("AWS::Lambda::Function", ("Code",), _S3BK, "zip"),
    Packaged("AWS::Lambda::LayerVersion", ("Content",), _S3BK, "zip"),
    Packaged("AWS::Serverless::Function", ("CodeUri",), "s3", "zip"),
    Packaged("AWS::Serverless::LayerVersion", ("ContentUri",), "s3", "zip"),
    Packaged("AWS::Serverless::Api", ("DefinitionUri",), "s3", "file"),
    Packaged("AWS::Serverless::HttpApi", ("DefinitionUri",), "s3", "file"),
    Packaged("AWS::Serverless::StateMachine", ("DefinitionUri",), _BK, "file"),
    Packaged("AWS::Serverless::Application", ("Location",), "url", "template"),
    Packaged("AWS::AppSync::GraphQLSchema", ("DefinitionS3Location",), "s3", "file"),
    Packaged("AWS::AppSync::Resolver", ("RequestMappingTemplateS3Location",), "s3", "file"),
    Packaged("AWS::AppSync::Resolver", ("ResponseMappingTemplateS3Location",), "s3", "file"),
    Packaged("AWS::AppSync::FunctionConfiguration", ("RequestMappingTemplateS3Location",),
             "s3", "file"),
    Packaged("AWS::AppSync::FunctionConfiguration", ("ResponseMappingTemplateS3Location",),
             "s3", "file"),
    Packaged("AWS::StepFunctions::StateMachine", ("DefinitionS3Location",), _BK, "file"),
    Packaged("AWS::ElasticBeanstalk::ApplicationVersion", ("SourceBundle",), _S3BK, "zip"),
    Packaged("AWS::Glue::Job", ("Command", "ScriptLocation"), "s3", "file"),
    Packaged("AWS::CodeCommit::Repository", ("Code", "S3"), _BK, "zip"),
    Packaged("AWS::CloudFormation::Stack", ("TemplateURL",), "url", "template"),
)
_REMOTE = re.compile(r"^(s3|https?)://", re.IGNORECASE)
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,12}$")
TEMPLATE_SUFFIX = ".template"


BUCKET_TOKEN = "%%sluice:bucket%%"


def key_token(asset: str) -> str:
    """The placeholder of an artifact's S3 key."""
    return f"%%sluice:key:{asset}%%"


def placeholder(asset: str, form: Form) -> Any:
    """The value standing for ``asset`` (a file of :data:`ASSETS_DIR`) until deploy."""
    if form == "s3":
        return f"s3://{BUCKET_TOKEN}/{key_token(asset)}"
    if form == "url":
        return f"%%sluice:url:{asset}%%"
    bucket, key = form
    return {bucket: BUCKET_TOKEN, key: key_token(asset)}


@dataclass
class Build:
    """What packaging adds to a release: ``path in the release → bytes``."""

    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, data: bytes, suffix: str) -> str:
        """Store an artifact content-addressed; returns its name in :data:`ASSETS_DIR`."""
        name = hashlib.sha256(data).hexdigest() + suffix
        self.files[f"{ASSETS_DIR}/{name}"] = data
        return name


@dataclass
class Packager:
    """Packages templates of one project against the files its release holds."""

    root: Path
    files: Collection[str]  # the release's files (project-relative, posix)
    build: Build = field(default_factory=Build)
    replaced: int = 0  # local paths replaced by placeholders
    _active: list[str] = field(default_factory=list)  # nested templates being packaged

    def package(self, rel: str) -> tuple[Template, Any]:
        """The template at ``rel`` and its packaged data (placeholders for local paths)."""
        if rel in self._active:
            chain = " → ".join([*self._active, rel])
            raise ReleaseError(f"nested templates include each other: {chain}",
                               tip="a nested stack cannot contain itself")
        self._active.append(rel)
        try:
            template = load_template(self.root, rel)
            return template, self._walk(template)
        finally:
            self._active.pop()

    def _walk(self, template: Template) -> Any:
        data = template.data
        resources = data.get("Resources")
        if isinstance(resources, Mapping):
            for logical, resource in resources.items():
                if not isinstance(resource, Mapping):
                    continue
                props = resource.get("Properties")
                for spec in PROPERTIES:
                    if resource.get("Type") == spec.resource_type and isinstance(props, dict):
                        self._property(template, str(logical), props, spec)
        self._includes(template, data)
        return data

    def _property(self, template: Template, logical: str, props: dict[str, Any],
                  spec: Packaged) -> None:
        holder: Any = props
        for part in spec.path[:-1]:
            holder = holder.get(part) if isinstance(holder, dict) else None
        last = spec.path[-1]
        if not isinstance(holder, dict) or not isinstance(holder.get(last), str):
            return  # absent, an intrinsic function or a mapping already naming S3
        value = holder[last]
        if _REMOTE.match(value):
            return
        where = (f"{template.path}:{line_of(value) or line_of(holder) or '?'}: "
                 f"{logical} ({spec.resource_type}) {'.'.join(spec.path)}")
        holder[last] = placeholder(self._artifact(template, value, spec.kind, where),
                                   spec.form)
        self.replaced += 1

    def _includes(self, template: Template, node: Any) -> None:
        """``Fn::Transform: {Name: AWS::Include, Parameters: {Location: ./snippet.yaml}}``
        anywhere in the template."""
        if isinstance(node, list):
            for item in node:
                self._includes(template, item)
            return
        if not isinstance(node, dict):
            return
        transform = node.get("Fn::Transform")
        params = transform.get("Parameters") if isinstance(transform, dict) else None
        if (isinstance(transform, dict) and transform.get("Name") == "AWS::Include"
                and isinstance(params, dict) and isinstance(params.get("Location"), str)
                and not _REMOTE.match(params["Location"])):
            where = f"{template.path}:{line_of(params['Location']) or '?'}: AWS::Include Location"
            params["Location"] = placeholder(
                self._artifact(template, params["Location"], "file", where), "s3")
            self.replaced += 1
        for value in node.values():
            self._includes(template, value)

    def _artifact(self, template: Template, value: str, kind: Kind, where: str) -> str:
        rel = self._resolve(template, value, where)
        folder = [f for f in sorted(self.files) if f.startswith(rel + "/")]
        if kind == "template":
            if rel not in self.files:
                raise self._missing(value, rel, where)
            nested, data = self.package(rel)
            return self.build.add(dump(data, nested.format).encode("utf-8"), TEMPLATE_SUFFIX)
        if rel in self.files:
            path = self.root / rel
            if kind == "zip" and path.suffix.lower() not in (".zip", ".jar"):
                return self.build.add(zip_entries([(path.name, path)]), ".zip")
            found = _SUFFIX.search(path.name)
            return self.build.add(path.read_bytes(), found.group(0) if found else "")
        if folder and kind == "zip":
            return self.build.add(zip_entries(
                (f[len(rel) + 1:], self.root / f) for f in folder), ".zip")
        if folder:
            raise ReleaseError(f"{where}: {value!r} is a folder, but this property takes "
                               "one file", tip="name the file itself")
        raise self._missing(value, rel, where)

    def _resolve(self, template: Template, value: str, where: str) -> str:
        """The project-relative path ``value`` names from the template's folder."""
        escape = ReleaseError(
            f"{where}: {value!r} is outside the project",
            tip="artifacts must be files of the project (paths relative to the template, "
                "no '..' above the project root, no absolute paths or links out of it)")
        if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
            raise escape
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(template.path), value))
        if rel == ".." or rel.startswith("../"):
            raise escape
        if rel == ".":
            rel = ""
        target = (self.root / rel).resolve() if rel else self.root.resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise escape  # a symbolic link out of the project
        if not rel:
            raise ReleaseError(f"{where}: {value!r} is the whole project",
                               tip="name the folder that holds the code")
        return rel

    @staticmethod
    def _missing(value: str, rel: str, where: str) -> ReleaseError:
        return ReleaseError(f"{where}: {value!r} ({rel}) is not a file of the release",
                            tip="create and commit it (a release holds the files git "
                                "tracks), or fix the path")


def package_template(root: Path, rel: str, files: Collection[str],
                     build: Build) -> tuple[str, str] | None:
    """Package the template at ``rel``: its packaged text and format, its artifacts added to
    ``build``; None when it names no local artifact (it deploys as written)."""
    packager = Packager(root, files, build)
    template, data = packager.package(rel)
    if not packager.replaced:
        return None
    return dump(data, template.format), template.format
