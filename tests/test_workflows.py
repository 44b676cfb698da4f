"""The GitHub Actions workflow is valid and keeps its promises: test -> build -> deploy, least privilege.

Validated offline: check-jsonschema's vendored GitHub-workflow schema, plus assertions on the jobs, their
order, their permissions and the action versions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DOCS = ROOT / ".github" / "workflows" / "docs.yml"
# The current major version of each action (checked 2026-11); older majors run on deprecated Node runtimes.
MIN_MAJOR = {
    "actions/checkout": 6,
    "actions/setup-python": 6,
    "actions/configure-pages": 6,
    "actions/upload-pages-artifact": 5,
    "actions/deploy-pages": 5,
    "actions/upload-artifact": 7,
}


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text("utf8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def test_there_are_workflows():
    assert DOCS in WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(path: Path):
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe, "check-jsonschema is missing: run `make test` (it installs the test extras)"
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_triggers_and_concurrency():
    wf = load(DOCS)
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "pull_request" in wf["on"]
    assert wf["concurrency"]["group"]


def test_least_privilege():
    wf = load(DOCS)
    assert wf["permissions"] == {"contents": "read"}
    for name, job in wf["jobs"].items():
        if name == "deploy":
            assert job["permissions"] == {"pages": "write", "id-token": "write"}
        else:
            assert "permissions" not in job, f"job {name} must not widen the read-only default"
    for job in wf["jobs"].values():
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False


def test_deploy_only_after_tests_and_build_on_push_to_main():
    jobs = load(DOCS)["jobs"]
    assert set(jobs) == {"test", "build", "deploy"}
    assert jobs["build"]["needs"] == "test"
    assert set(jobs["deploy"]["needs"]) == {"test", "build"}
    only_main = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert jobs["deploy"]["if"] == only_main
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    uses = [s.get("uses", "") for s in steps(jobs["build"])]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    upload = next(s for s in steps(jobs["build"]) if s.get("uses", "").startswith("actions/upload-pages"))
    assert upload["if"] == only_main  # pull requests build but never upload or deploy


def test_pull_requests_get_their_built_site_as_an_artifact():
    build = load(DOCS)["jobs"]["build"]
    upload = next(s for s in steps(build) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "github.event_name == 'pull_request'"
    assert upload["with"]["path"] == "site"
    # ...uploaded after the site was built and checked
    names = [s.get("run", "") + s.get("uses", "") for s in steps(build)]
    assert names.index(next(n for n in names if "make check-site" in n)) < steps(build).index(upload)


def test_jobs_run_the_readme_command_and_build_strictly():
    jobs = load(DOCS)["jobs"]
    runs = lambda job: "\n".join(s.get("run", "") for s in steps(job))  # noqa: E731
    assert re.search(r"\bmake test\b", runs(jobs["test"]))
    assert re.search(r"\bmake check-site\b", runs(jobs["build"]))
    makefile = (ROOT / "Makefile").read_text()
    assert "mkdocs build --strict" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_matrix_covers_oldest_and_newest_supported_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = re.fullmatch(r">=\s*(3\.\d+)", project["requires-python"])[1]
    versions = [entry["python"] for entry in load(DOCS)["jobs"]["test"]["strategy"]["matrix"]["include"]]
    assert oldest in versions
    assert max(_version(v) for v in versions) >= (3, 13)  # as numbers: "3.9" > "3.13" as strings


def test_publishing_needs_tests_on_two_cpu_architectures():
    jobs = load(DOCS)["jobs"]
    include = jobs["test"]["strategy"]["matrix"]["include"]
    runners = {entry["runner"] for entry in include}
    assert "ubuntu-latest" in runners  # x86-64
    assert any(r.endswith("-arm") for r in runners)  # GitHub's arm64 Linux runners
    # Both architectures run the portability target, and the deploy needs every matrix entry to pass.
    assert {e["arch"] for e in include if e["portability"]} == {"x86-64", "arm64"}
    assert any(
        "make portability" in s.get("run", "") and s.get("if") == "matrix.portability"
        for s in steps(jobs["test"])
    )
    assert "test" in jobs["deploy"]["needs"] and jobs["build"]["needs"] == "test"


def test_actions_are_at_current_major_versions():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in steps(job):
                action, _, ref = step.get("uses", "").partition("@")
                if action in MIN_MAJOR:
                    assert int(ref.lstrip("v").split(".")[0]) >= MIN_MAJOR[action], (
                        f"{path.name}: {action}@{ref}"
                    )
