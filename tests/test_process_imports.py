"""What the app's processes import when they start: a module a web worker or `flask
bundles build` never uses is still memory each of them holds (bench/bundle.py: peak RSS
<= 150 MB for both, of which the app's imports are most)."""

from __future__ import annotations

import subprocess
import sys

# Imported on first use instead (see each one's import): Flask-Migrate with Alembic,
# Mako and Pygments (~8 MB, `flask db` and migrations only); lxml, inscriptis and
# feedgen (~6 MB: HTML descriptions in harvests, scenarios' Atom feeds).
NOT_AT_START = {"flask_migrate", "alembic", "mako", "pygments", "lxml", "inscriptis", "feedgen"}


def test_the_app_and_the_bundle_builder_start_without_what_they_never_use(tmp_path):
    code = (
        "import sys\n"
        "from subscribe import create_app\n"
        "import subscribe.bundles.build, subscribe.bundles.cli, subscribe.search.service\n"
        "create_app()\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    env = {"SUBSCRIBE_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin",
           "SUBSCRIBE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"}  # fmt: skip
    modules = set(subprocess.check_output([sys.executable, "-c", code], text=True, env=env).split())
    assert "subscribe.web" in modules and "numpy" in modules  # the walk saw the app
    loaded = {name for name in modules if name.split(".")[0] in NOT_AT_START}
    assert not loaded, sorted(loaded)
