"""CDK apps synthesised with the CDK CLI (``cdk synth``), and their cloud assembly turned into
what a packaged template is: the stack's template with its file assets (from
``<stack>.assets.json``) zipped into the release and referenced by placeholders.

CDK's default synthesizer points file assets at its bootstrap bucket
(``cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}``) and checks the bootstrap
version through an SSM parameter; sluice uploads assets itself (content-addressed, to the
environment's artifact bucket), so those references are rewritten to sluice's placeholders
and the bootstrap parameter and rule are dropped: no ``cdk bootstrap`` is needed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sluice.config.components import CdkApp
from sluice.errors import ReleaseError
from sluice.release.zips import zip_tree
from sluice.stacks.packaging import BUCKET_TOKEN, Build, key_token

INSTALL = "npm install -g aws-cdk   (or: npm install --save-dev aws-cdk in the project)"
_BOOTSTRAP_PARAMETER = "BootstrapVersion"
_BOOTSTRAP_RULE = "CheckBootstrapVersion"


def find_cdk(root: Path) -> str:
    """The CDK CLI: ``$SLUICE_CDK``, else the project's ``node_modules/.bin/cdk``, else
    ``cdk`` on PATH."""
    configured = os.environ.get("SLUICE_CDK")
    if configured:
        if not Path(configured).is_file():
            raise ReleaseError(f"SLUICE_CDK is {configured}, which is not a file",
                               tip=f"point it at the cdk executable, or unset it; {INSTALL}")
        return configured
    local = root / "node_modules" / ".bin" / "cdk"
    if local.is_file():
        return str(local)
    found = shutil.which("cdk")
    if found is None:
        raise ReleaseError("the CDK CLI (cdk) is not installed, so CDK stacks cannot be "
                           "synthesised", tip=f"{INSTALL}; or set SLUICE_CDK to its path")
    return found


def synth_argv(cdk: str, app: CdkApp, out: Path) -> list[str]:
    """``cdk synth`` of one stack into ``out``, without metadata that changes by machine or
    CLI version. The app is one argument: cdk itself splits and runs it, as from cdk.json."""
    argv = [cdk, "synth", "--app", app.app, "--output", str(out), "--no-version-reporting",
            "--no-path-metadata", "--no-asset-metadata", "--no-notices", "--quiet",
            "--ci"]
    for key, value in sorted(app.context.items()):
        argv += ["--context", f"{key}={value}"]
    return [*argv, app.stack]


def synthesise(root: Path, name: str, app: CdkApp, out: Path, timeout: int) -> Path:
    """Run ``cdk synth`` in the project directory; returns the cloud assembly folder."""
    cdk = find_cdk(root)
    if not shlex.split(app.app):
        raise ReleaseError(f"stack {name}: cdk.app is empty", tip="e.g. app: python app.py")
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "true",
           "CDK_DISABLE_CLI_TELEMETRY": "true"}
    try:
        proc = subprocess.run(synth_argv(cdk, app, out), cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ReleaseError(f"stack {name}: cdk synth did not finish within {timeout}s",
                           tip="raise checks.timeout in sluice.yaml, or make the app "
                               "faster") from exc
    except OSError as exc:
        raise ReleaseError(f"stack {name}: cannot run {cdk}: {exc.strerror}",
                           tip=INSTALL) from exc
    if proc.returncode != 0:
        lines = [ln[:300] for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        said = "\n".join(lines[-8:]) or "no output"
        raise ReleaseError(
            f"stack {name}: cdk synth --app {app.app!r} {app.stack} failed "
            f"(exit status {proc.returncode}):\n{said}",
            tip=f"run it yourself in the project: cdk synth --app {shlex.quote(app.app)} "
                f"{app.stack}")
    return out


def synthesised_template(root: Path, name: str, app: CdkApp, timeout: int,
                         build: Build) -> str:
    """Synthesise the stack; returns its template (JSON) with file assets in ``build``."""
    with tempfile.TemporaryDirectory(prefix="sluice-cdk-") as tmp:
        out = synthesise(root, name, app, Path(tmp) / "cdk.out", timeout)
        template_file = out / f"{app.stack}.template.json"
        if not template_file.is_file():
            made = sorted(p.name for p in out.glob("*.template.json"))
            raise ReleaseError(f"stack {name}: the CDK app made no stack {app.stack!r} "
                               f"(it made: {', '.join(made) or 'none'})",
                               tip=f"fix stacks.{name}.cdk.stack in sluice.yaml")
        template = json.loads(template_file.read_text(encoding="utf-8"))
        assets = out / f"{app.stack}.assets.json"
        manifest = json.loads(assets.read_text(encoding="utf-8")) if assets.is_file() else {}
        if manifest.get("dockerImages"):
            raise ReleaseError(f"stack {name}: the CDK app has Docker image assets, which "
                               "sluice does not build", tip="use file assets (zip or file)")
        replacements: dict[str, Any] = {}
        for asset in (manifest.get("files") or {}).values():
            source = asset.get("source") or {}
            if source.get("path") == template_file.name:
                continue  # the template itself
            asset_name = _add_asset(out, name, source, build)
            for dest in (asset.get("destinations") or {}).values():
                replacements[dest["bucketName"]] = BUCKET_TOKEN
                replacements[dest["objectKey"]] = key_token(asset_name)
        template = _rewrite(template, replacements)
        params = template.get("Parameters") or {}
        params.pop(_BOOTSTRAP_PARAMETER, None)
        rules = template.get("Rules") or {}
        rules.pop(_BOOTSTRAP_RULE, None)
        for section, value in (("Parameters", params), ("Rules", rules)):
            if not value:
                template.pop(section, None)
    return json.dumps(template, indent=2, sort_keys=True) + "\n"


def _add_asset(out: Path, name: str, source: Mapping[str, Any], build: Build) -> str:
    path = (out / str(source.get("path", ""))).resolve()
    if not path.is_relative_to(out.resolve()) or not path.exists():
        raise ReleaseError(f"stack {name}: the CDK asset {source.get('path')!r} is not in the "
                           "cloud assembly", tip="synthesise it yourself with cdk synth")
    if source.get("packaging") == "zip" or path.is_dir():
        return build.add(zip_tree(path), ".zip")
    return build.add(path.read_bytes(), path.suffix if len(path.suffix) <= 12 else "")


def _rewrite(node: Any, replacements: Mapping[str, Any]) -> Any:
    """Asset buckets (``Fn::Sub`` of the bootstrap bucket) and keys → placeholders."""
    if isinstance(node, list):
        return [_rewrite(v, replacements) for v in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str) \
                and node["Fn::Sub"] in replacements:
            return replacements[node["Fn::Sub"]]
        return {k: _rewrite(v, replacements) for k, v in node.items()}
    if isinstance(node, str) and node in replacements:
        return replacements[node]
    return node
