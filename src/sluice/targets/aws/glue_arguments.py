"""A ``glue`` job's arguments on the aws target: what the Glue job keeps, what each run gets.

Glue runs the project's script as written, so the script's ``getResolvedOptions`` sees
exactly these arguments, with S3 locations:

- ``${input:SOURCE}`` is the source's folder under the environment's objects prefix
  (``s3://<bucket>/<prefix>/envs/<env>/objects/<path up to its last / before a wildcard>``),
  or its one file when the path has no wildcard;
- ``${input:DATASET}`` is the prefix of the version the run reads (new in this deploy, or
  published), and ``${output:DATASET}`` the prefix of the version being written.

The job's DefaultArguments hold only what does not depend on a version (plain values,
``${param}``s as substituted, source locations), so a Glue job started outside sluice still
sees them; a run gets every argument resolved for it as its run Arguments.

Glue job and run arguments are readable by anyone with ``glue:GetJob``/``glue:GetJobRun`` and
are recorded by CloudTrail, so an argument whose value holds a secret (a secret-looking
parameter, an ``SLUICE_ENV_*`` override: :mod:`sluice.secrecy`) is refused, never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sluice.config import GlueJob, ProjectConfig, qualify
from sluice.config.jobs import GLUE_REFERENCE
from sluice.config.names import source_folder
from sluice.errors import ConfigError
from sluice.glue.arguments import resolve
from sluice.secrecy import contains_secret

__all__ = ["check_outputs", "default_arguments", "refuse_secrets", "run_arguments",
           "source_url"]

def _where(release_dir: Path | None, job: str, key: str | None) -> str:
    """``sluice.yaml:LINE:COL`` of a job's argument (or of its arguments), when it is known."""
    if release_dir is None:
        return "sluice.yaml"
    from sluice.config.loader import read_config_document

    try:
        doc = read_config_document(release_dir)
    except ConfigError:
        return "sluice.yaml"
    path = ("jobs", job, "arguments", key) if key else ("jobs", job)
    return str(doc.locate(path))


def source_url(cfg: ProjectConfig, objects_url: str, source: str, job: str) -> str:
    """Where a file source lives for a Glue script: a folder (Glue reads S3 prefixes, not
    wildcards) or the one file the source names."""
    spec = cfg.sources[source]
    if spec.format == "table" or spec.path is None:
        raise ConfigError(f"job {job}: ${{input:{source}}} is a table source, which has no S3 "
                          "location on the aws target",
                          tip="declare the table's S3 location as a parquet source instead")
    return objects_url + source_folder(spec.path)


def _version_free(value: str, cfg: ProjectConfig) -> bool:
    """An argument value that is the same for every version: it names no output and no
    dataset input (a source's location never changes)."""
    return all(m["kind"] == "input" and qualify(m["name"]) in cfg.sources
               for m in GLUE_REFERENCE.finditer(value))


def default_arguments(cfg: ProjectConfig, job_name: str, objects_url: str) -> dict[str, str]:
    """The arguments the Glue job keeps (its DefaultArguments besides ``--job-language``)."""
    job = cfg.jobs[job_name]
    assert isinstance(job, GlueJob)
    kept = job.model_copy(update={"arguments": {
        k: v for k, v in job.arguments.items() if _version_free(v, cfg)}})

    def unused(dataset: str) -> str:
        raise AssertionError(f"{dataset}: version-dependent arguments are not kept")

    return resolve(kept, lambda d: source_url(cfg, objects_url, d, job_name), unused)


def refuse_secrets(job_name: str, arguments: Mapping[str, str],
                   release_dir: Path | None = None) -> None:
    """ConfigError naming the first argument whose value holds a known secret (the value is
    never shown)."""
    for key, value in arguments.items():
        if contains_secret(value):
            raise ConfigError(
                f"{_where(release_dir, job_name, key)}: job {job_name}: argument {key} holds "
                "a secret value; Glue job arguments are readable by anyone with glue:GetJob "
                "or glue:GetJobRun and are recorded by CloudTrail, so sluice does not send it",
                tip="store the secret in AWS Secrets Manager, pass its name instead (e.g. "
                    "--DB_CREDENTIALS: prod/db) and read it in the script with boto3's "
                    "secretsmanager get_secret_value; values of SLUICE_ENV_* overrides count "
                    "as secrets too")


def check_outputs(cfg: ProjectConfig, job_name: str, release_dir: Path | None = None) -> None:
    """Every output must be written at an ``${output:…}`` location: on AWS a catalog write
    (``write_dynamic_frame.from_catalog``) goes to the Glue table's location, which is the
    published version, and would overwrite what consumers read."""
    job = cfg.jobs[job_name]
    assert isinstance(job, GlueJob)
    named = {d for value in job.arguments.values()
             for kind, d in job.references(value) if kind == "output"}
    missing = [d for d in cfg.job_outputs(job) if d not in named]
    if missing:
        raise ConfigError(
            f"{_where(release_dir, job_name, None)}: job {job_name}: no argument is "
            f"${{output:{missing[0]}}}; on the aws target a glue job writes each output at "
            "the new version's prefix it is given, never through the catalog (the catalog's "
            "table is the published version)",
            tip=f"add `--OUTPUT_PATH: ${{output:{missing[0]}}}` to jobs.{job_name}.arguments "
                "and write there with glueContext.write_dynamic_frame.from_options("
                "connection_type='s3', connection_options={'path': args['OUTPUT_PATH']}, "
                "format='parquet')")


def run_arguments(job: GlueJob, inputs: Callable[[str], str],
                  outputs: Callable[[str], str]) -> dict[str, str]:
    """Every argument of one run, references resolved (``--JOB_NAME`` is Glue's to set)."""
    return resolve(job, inputs, outputs)
