"""`flask --app wsgi ...` as a real process, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("no_pdf_rebuilds")


# ---------------------------------------------------------------- the real entry point


def _flask(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_real_flask_entry_point(tmp_path):
    """`flask --app wsgi …` as an operator runs it, on its own SQLite file (either backend run)."""
    database = tmp_path / "cli.db"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FLASK_", "MAIL_", "REDIS", "JOBS_", "PUBLIC_BASE", "PDF_"))
        and key not in ("DATABASE_URL", "SECRET_KEY", "TEST_DATABASE_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        SECRET_KEY="cli-test-secret",
        PDF_DIR=str(tmp_path / "pdf"),
        FLASK_MAIL_DIR=str(tmp_path / "mail"),
        PDF_DEBOUNCE_SECONDS="0",
        PYTHONWARNINGS="error::DeprecationWarning",
    )
    upgrade = _flask(["db", "upgrade"], env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert database.is_file()

    seed = _flask(["seed"], env)
    assert seed.returncode == 0, seed.stderr
    assert "statement interregional-innovation-investments: created" in seed.stdout
    assert "founding signatories imported: 4" in seed.stdout

    listed = _flask(["signatures", "list", "--state", "approved"], env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "id\tstate\tstatement\torganisation_name\temail"
    assert [line.split("\t")[3] for line in lines[1:]] == [
        "Vanguard Initiative",
        "European Clusters Alliance",
        "EuroTech Universities Alliance",
        "UAS4Europe",
    ]

    # An error exits non-zero with its message on stderr.
    unknown = _flask(["signatures", "approve", "987654"], env)
    assert unknown.returncode == 1
    assert "no signature with id 987654" in unknown.stderr


# ---------------------------------------------------------------- every module, first


# Importing petition.a.b first runs petition.a's __init__ to its end before b: a package whose
# __init__ loads its modules is one entry point for all of them. So: each top-level module and
# each package first, then each module that its package's __init__ did not load, first.
IMPORT_EACH_FIRST = """
import importlib, pkgutil, sys
import petition
found = list(pkgutil.walk_packages(petition.__path__, "petition."))
def import_first(name):
    for loaded in [m for m in sys.modules if m == "petition" or m.startswith("petition.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        print(f"{name}: {exc!r}")
entries = [m.name for m in found if m.ispkg or m.name.count(".") == 1]
loaded_by_package = set()
for name in entries:
    import_first(name)
    if hasattr(sys.modules.get(name), "__path__"):
        loaded_by_package |= {m for m in sys.modules if m.startswith(name + ".")}
for module in found:
    if module.name not in entries and module.name not in loaded_by_package:
        import_first(module.name)
print(f"{len(found)} modules")
"""


def test_every_module_imports_when_it_is_imported_first():
    """A script, a worker's job or a test may import any module before the others: none may
    find a cycle of imports on its way in (the packages import their views, which import the
    other packages)."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_FIRST],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    *failures, summary = done.stdout.strip().splitlines()
    assert failures == [] and int(summary.split()[0]) > 90, done.stdout
