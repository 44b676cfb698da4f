"""The GitHub Actions workflows are valid and keep their promises.

- docs.yml: test -> build -> deploy, least privilege, two CPU architectures, the oldest and newest Python.
- compatibility.yml: the oldest supported releases on every pull request, the newest releases weekly (and by
  hand) with one issue opened or updated when they fail, and the readers' laptops (macOS on Apple silicon,
  Windows) running what a reader would run.

Validated offline: check-jsonschema's vendored GitHub-workflow schema, assertions on the jobs, their
triggers, their permissions and the action versions, that every command a job calls exists here (make
targets, scripts, pytest options, setup settings), and the issue step's shell script run against a stand-in
`gh`. The jobs themselves run only on GitHub.
"""

from __future__ import annotations

import os
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
COMPAT = ROOT / ".github" / "workflows" / "compatibility.yml"
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
    assert DOCS in WORKFLOWS and COMPAT in WORKFLOWS


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


# The only jobs that may widen the read-only default, and to exactly what.
WIDENED = {
    (DOCS, "deploy"): {"pages": "write", "id-token": "write"},
    (COMPAT, "report-newest"): {"issues": "write"},
}


@pytest.mark.parametrize("path", [DOCS, COMPAT], ids=lambda p: p.name)
def test_least_privilege(path: Path):
    wf = load(path)
    assert wf["permissions"] == {"contents": "read"}
    for name, job in wf["jobs"].items():
        if (path, name) in WIDENED:
            assert job["permissions"] == WIDENED[path, name]
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
    makefile = (ROOT / "Makefile").read_text("utf8")
    assert "mkdocs build --strict" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text("utf8")
    assert "make test" in (ROOT / "README.md").read_text("utf8")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_matrix_covers_oldest_and_newest_supported_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf8"))["project"]
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


# ---------------------------------------------------------------------------------------------------------
# compatibility.yml: the supported range at both ends, and the readers' platforms
# ---------------------------------------------------------------------------------------------------------


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def _oldest_python() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf8"))["project"]
    return re.fullmatch(r">=\s*(3\.\d+)", project["requires-python"])[1]


def test_the_newest_releases_run_weekly_and_by_hand():
    wf = load(COMPAT)
    assert "workflow_dispatch" in wf["on"]
    (schedule,) = wf["on"]["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and re.fullmatch(r"[0-6]", weekday), "once a week"
    assert re.fullmatch(r"\d+", minute) and re.fullmatch(r"\d+", hour)
    newest = wf["jobs"]["newest"]
    assert newest["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"
    assert re.search(r"^make test\b.*\bDEPENDENCIES=newest\b", runs(newest), re.M)
    python = next(s for s in steps(newest) if s.get("uses", "").startswith("actions/setup-python@"))
    assert _version(python["with"]["python-version"]) >= (3, 13)


def test_a_failing_newest_run_opens_or_updates_one_issue():
    jobs = load(COMPAT)["jobs"]
    report = jobs["report-newest"]
    assert report["needs"] == "newest"
    assert report["if"].startswith("failure() && ")  # only when the newest releases failed
    (step,) = steps(report)
    assert step["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert step["env"]["GH_REPO"] == "${{ github.repository }}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="the step is a bash script")
@pytest.mark.parametrize("open_issue", ["", "7"], ids=["no-open-issue", "issue-7-open"])
def test_the_issue_step_creates_the_first_time_and_comments_after(tmp_path: Path, open_issue: str):
    """The step's script, run by bash against a stand-in `gh` that logs its arguments."""
    script = steps(load(COMPAT)["jobs"]["report-newest"])[0]["run"]
    log = tmp_path / "gh.log"
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir()
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s\\n" "$*" >> "{log}"\n'
        f'if [ "$1 $2" = "issue list" ]; then echo "{open_issue}"; fi\n'
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "RUN_URL": "https://run/1"}
    result = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("label create dependency-drift ") and "--force" in calls[0]
    assert calls[1].startswith("issue list --label dependency-drift --state open")
    assert len(calls) == 3
    if open_issue:
        assert calls[2].startswith("issue comment 7 --body ")
    else:
        assert calls[2].startswith("issue create --title ") and "--label dependency-drift" in calls[2]
    assert "https://run/1" in calls[2]


def test_the_oldest_supported_versions_run_on_every_pull_request():
    wf = load(COMPAT)
    assert wf["on"]["pull_request"] is None  # every pull request: no branch or path filter
    oldest = wf["jobs"]["oldest"]
    assert "if" not in oldest
    assert re.search(r"^make test\b.*\bDEPENDENCIES=oldest\b", runs(oldest), re.M)
    python = next(s for s in steps(oldest) if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == _oldest_python()


# GitHub's macOS runners on Apple silicon (arm64); the -large labels are Intel.
APPLE_SILICON = {"macos-14", "macos-15", "macos-26", "macos-latest", "macos-14-xlarge", "macos-15-xlarge"}


def test_readers_laptops_are_in_the_matrix():
    readers = load(COMPAT)["jobs"]["readers"]
    include = readers["strategy"]["matrix"]["include"]
    runners = {e["runner"] for e in include}
    assert runners & APPLE_SILICON, "macOS on Apple silicon"
    assert any(r.startswith("windows-") for r in runners)
    assert readers["strategy"]["fail-fast"] is False
    assert readers["env"]["LLMGUIDE_DEVICE"] == "cpu"  # the pages' numbers were made on a CPU
    mac = next(e for e in include if e["runner"] in APPLE_SILICON)
    windows = next(e for e in include if e["runner"].startswith("windows-"))
    assert mac["make"] is True and windows["make"] is False  # Windows has no make
    mac_runs = [s["run"].strip() for s in steps(readers) if s.get("if") == "matrix.make"]
    assert len(mac_runs) == 1 and re.fullmatch(r"make test\b.*", mac_runs[0])
    windows_runs = "\n".join(s["run"] for s in steps(readers) if s.get("if") == "${{ !matrix.make }}")
    # The reader's install: the same torch as scripts/setup.sh, then the package with its extras.
    setup = (ROOT / "scripts" / "setup.sh").read_text("utf8")
    torch_version = re.search(r"^TORCH_VERSION=\$\{TORCH_VERSION:-([0-9.]+)\}", setup, re.M)[1]
    assert f"pip install torch=={torch_version}" in windows_runs
    assert 'pip install -e ".[docs,test]"' in windows_runs
    # ...then every test, the chapters as notebooks and the solution notebooks among them
    assert re.search(r"^python -m pytest --chapters-as-notebooks\b", windows_runs, re.M)


def _commands(path: Path) -> list[str]:
    return [
        line.strip() for job in load(path)["jobs"].values() for line in runs(job).splitlines() if line.strip()
    ]


def test_every_command_the_jobs_call_exists_here():
    makefile = (ROOT / "Makefile").read_text("utf8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    setup = (ROOT / "scripts" / "setup.sh").read_text("utf8")
    commands = _commands(DOCS) + _commands(COMPAT)
    for command in commands:
        for target in re.findall(r"\bmake ([a-z][a-z-]*)", command):
            assert target in targets, f"{command!r}: the Makefile has no target {target}"
        for setting in re.findall(r"\bDEPENDENCIES=(\w+)", command):
            assert re.search(rf"^\s+{setting}\)", setup, re.M), f"scripts/setup.sh has no {setting} branch"
        for script in re.findall(r"\b(scripts/[\w./-]+\.(?:py|sh))\b", command):
            assert (ROOT / script).is_file(), f"{command!r}: {script} is missing"
    # The options the jobs give pytest are all registered (plugins included).
    pytest_options = {o for c in commands if "-m pytest" in c for o in re.findall(r"(--[a-z-]+)", c)}
    assert "--chapters-as-notebooks" in pytest_options
    helptext = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    for option in pytest_options:
        assert option in helptext, f"pytest does not know {option}"


def test_chapter_notebooks_run_in_a_readers_environment_with_another_torch():
    job = load(COMPAT)["jobs"]["reader-notebook"]
    assert "if" not in job  # every pull request
    commands = runs(job)
    assert re.search(r"^make build\b", commands, re.M)  # the notebooks as the site serves them
    # The reader's own PyTorch is installed first, not the pinned one...
    setup = (ROOT / "scripts" / "setup.sh").read_text("utf8")
    torch_version = re.search(r"^TORCH_VERSION=\$\{TORCH_VERSION:-([0-9.]+)\}", setup, re.M)[1]
    install = re.search(r"^reader/bin/python -m pip install torch\b.*$", commands, re.M)
    assert install and f"torch=={torch_version}" not in install[0]
    # ...then every chapter notebook runs from its first cell, and the script checks torch was kept.
    assert "for notebook in site/notebooks/*.ipynb" in commands
    assert re.search(r"reader/bin/python scripts/reader_notebook\.py \"\$notebook\"", commands)
    script = (ROOT / "scripts" / "reader_notebook.py").read_text("utf8")
    assert "torch before" in script and "replaced torch" in script
