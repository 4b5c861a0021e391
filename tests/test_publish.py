"""Publishing: the GitHub Pages workflow, `make publish`, .ci/run and the Binder set-up.

The workflow must run what the README tells a reader to run (read from README.md, so the
two cannot drift apart) and deploy the folder `make book` writes; Binder must install the
same pins as requirements.txt and the package from the repository.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, build_book

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
BINDER = ROOT / "binder"
MAKE = re.compile(r"(?<![\w./-])make\s+([\w.-]+)")


def readme_commands() -> list[str]:
    """The commands of the README's ```bash block, comments stripped."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "README.md has no ```bash block"
    lines = (line.split("#", 1)[0].strip() for line in blocks[0].splitlines())
    return [line for line in lines if line]


def make_targets(commands) -> list[str]:
    return [target for command in commands for target in MAKE.findall(command)]


def shell_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow) -> list[tuple[str, dict]]:
    return [(job, step) for job, spec in workflow["jobs"].items() for step in spec["steps"]]


def uses(workflow, action: str) -> list[tuple[str, dict]]:
    return [(job, step) for job, step in steps(workflow)
            if step.get("uses", "").split("@")[0] == action]


def test_workflow_runs_the_readme_commands(workflow):
    readme = make_targets(readme_commands())
    assert sorted(readme) == ["book", "test"], readme_commands()
    runs = [step["run"] for _, step in steps(workflow) if "run" in step]
    ran = make_targets(line for run in runs for line in shell_lines(run))
    assert sorted(ran) == sorted(readme), f"workflow runs make {ran}, README says make {readme}"
    assert ran.index("test") < ran.index("book"), "test before building what gets deployed"


def test_workflow_deploys_the_book_html(workflow):
    html = build_book.html_dir().relative_to(ROOT).as_posix()  # where `make book` writes
    assert html == "_build/html"
    (build_job, upload), = uses(workflow, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == html
    build = workflow["jobs"][build_job]["steps"]
    last_make = max(i for i, step in enumerate(build) if MAKE.search(step.get("run", "")))
    assert build.index(upload) > last_make
    assert uses(workflow, "actions/configure-pages")
    (deploy_job, _), = uses(workflow, "actions/deploy-pages")
    deploy = workflow["jobs"][deploy_job]
    needs = deploy["needs"]
    assert build_job in ([needs] if isinstance(needs, str) else needs)
    assert deploy["environment"]["name"] == "github-pages"
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    concurrency = workflow["concurrency"]
    assert concurrency["group"] and concurrency["cancel-in-progress"] is False


def test_workflow_trigger_and_machine(workflow):
    trigger = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert trigger["push"]["branches"] == ["main"] and "workflow_dispatch" in trigger
    job = workflow["jobs"][uses(workflow, "actions/upload-pages-artifact")[0][0]]
    setup_python = [s["with"]["python-version"] for _, s in uses(workflow, "actions/setup-python")]
    assert setup_python == ["3.11"] or re.fullmatch(r"python:3\.11-\w+", job.get("container", ""))
    node = [str(step["with"]["node-version"]) for _, step in uses(workflow, "actions/setup-node")]
    assert node == ["20"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert re.search(r"apt-get install .*\bchromium\b", runs)
    # No ../shared data on GitHub: the data tests must skip there, not fail. So neither the
    # workflow (its comments aside) nor .ci/run, which requires the data, may set it.
    assert "WCONV_REQUIRE_DATA" not in yaml.safe_dump(workflow)
    assert ".ci/run" not in runs


def test_ci_runs_make_test():
    lines = shell_lines((ROOT / ".ci" / "run").read_text())
    assert "test" in make_targets(lines)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_publish_builds_the_book_then_pushes_it():
    dry = subprocess.run(["make", "-n", "publish"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    build = next(i for i, line in enumerate(dry) if "tools/build_book.py" in line)
    push = next(i for i, line in enumerate(dry) if "ghp-import" in line)
    assert build < push
    assert shlex.split(dry[push]) == [".venv/bin/ghp-import", "-n", "-p", "-f", "_build/html"]
    assert "ghp-import" in requirement_pins(ROOT / "requirements.txt")


def requirement_pins(path: Path) -> dict[str, str]:
    """name -> requirement of a pip requirements file, following -r as pip does (relative
    to the file that includes it)."""
    pins = {}
    for line in shell_lines(path.read_text()):
        if line.startswith(("-r ", "--requirement ")):
            pins.update(requirement_pins(path.parent / line.split(None, 1)[1]))
            continue
        assert not line.startswith("-"), f"{path}: unexpected option {line!r}"
        name = re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0]
        pins[re.sub(r"[-_.]+", "-", name).lower()] = line
    return pins


def test_binder_installs_the_pinned_requirements():
    pinned = requirement_pins(ROOT / "requirements.txt")
    assert pinned and all("==" in line for line in pinned.values())
    assert requirement_pins(BINDER / "requirements.txt") == pinned


def test_binder_python_is_the_ci_python(workflow):
    runtime = (BINDER / "runtime.txt").read_text().strip()  # repo2docker's default is older
    job = workflow["jobs"][uses(workflow, "actions/upload-pages-artifact")[0][0]]
    image = re.fullmatch(r"python:(\d+\.\d+)-\w+", job.get("container", ""))
    ci = (image.group(1) if image
          else uses(workflow, "actions/setup-python")[0][1]["with"]["python-version"])
    assert runtime == f"python-{ci}"


def test_binder_postbuild_installs_the_package():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "repo2docker runs postBuild only when it is executable"
    lines = shell_lines(post.read_text())
    assert "set -e" in lines
    # repo2docker runs postBuild from the repository root: `.` is the repository.
    installs = [shlex.split(line) for line in lines
                if re.match(r"(python3? -m )?pip install ", line)]
    assert any(args[-1] == "." and "--no-deps" in args for args in installs), lines
