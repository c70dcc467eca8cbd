"""The API on a PostgreSQL state store (team mode): health names it, tokens, a deployment
and the listings go through it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace
from sluice.serve.app import create_app
from sluice.serve.tokens import issue_token
from tests.engine_fixtures import postgres_db, postgres_url
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject

_clean_env, api_template = fx._clean_env, fx.api_template
_fixtures = (postgres_db, postgres_url)


@pytest.mark.postgres
def test_the_api_on_a_postgresql_state_store(api_template: ApiProject, postgres_db: str,
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "retail"
    shutil.copytree(api_template.root, root, symlinks=True)
    monkeypatch.setenv("SLUICE_STATE_URL", postgres_db)
    ws = Workspace.open(root)
    try:
        release = make_release(ws)[0].id  # recorded in this store (the artifacts are shared)
        token = issue_token(ws.state, "dave", "user", ["deployer:*"], "test")
    finally:
        ws.close()
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(root, background=False)) as client:
        assert client.get("/healthz").json()["state"] == "postgresql"
        assert client.get("/api/status", headers={"Authorization": "Bearer slc_x_y"}) \
            .status_code == 401
        r = client.post("/api/environments/dev/deployments", json={"release": release},
                        headers=bearer)
        assert r.status_code == 201, r.text
        status = client.get("/api/status", headers=bearer).json()
        assert status[0]["env"] == "dev" and status[0]["release"] == release
        history = client.get("/api/history", params={"env": "dev"}, headers=bearer).json()
        assert history[0]["actor"] == "dave"
