"""A generated catalog database for the benchmarks, built once and reused (bench/out/).

Datasets come from the demo catalog generator (Zipf-distributed departments, themes,
regions and subjects; deterministic seed), mapped by the real CKAN harvester code and
written by the real catalog writer, so the database looks exactly like a harvested one.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import update

from subscribe import create_app
from subscribe.catalog import sequence, services
from subscribe.catalog.harvest import claim_run
from subscribe.catalog.harvesters.ckan import read_package
from subscribe.catalog.models import Dataset
from subscribe.catalog.writer import CatalogWriter
from subscribe.demo.catalog import DemoCatalog
from subscribe.demo.changes import Snapshot, resolve
from subscribe.demo.ckan import PackageEncoder
from subscribe.extensions import db

OUT = Path(__file__).resolve().parent / "out"
SEED = 20240601


def retitle(dataset_ids: list[int], suffix: str) -> None:
    """Append `suffix` to each dataset's title as a harvest would change it (a new change
    sequence number, so the search follower picks it up), and commit. In an app context."""
    for dataset_id in dataset_ids:
        db.session.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(title=Dataset.title + suffix, change_seq=sequence.allocate(1)[0])
        )
    db.session.commit()


def bench_app(workdir: Path, database: str | None = None):
    database = database or f"sqlite:///{workdir / 'catalog.db'}"
    return create_app({"SQLALCHEMY_DATABASE_URI": database, "INSTANCE_PATH": str(workdir)})


def catalog_dir(size: int, workdir: Path | None = None) -> Path:
    """A folder holding catalog.db with `size` datasets (built on first use, ~2–3 min);
    bench/out/catalog-<size>/ unless `workdir` names another (a bench that writes into
    the catalog needs its own: the shared one is read by other engineers' runs)."""
    workdir = workdir or OUT / f"catalog-{size}"
    if (workdir / "complete").exists():
        with bench_app(workdir).app_context():
            upgrade()  # a database built by an older checkout gets the newer tables
        return workdir
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    app = bench_app(workdir)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        source = services.create_source("generated", "ckan", "http://generated.example")
        run = services.queue_harvest(source)
        claim_run(run.id)
        writer = CatalogWriter(run, batch_size=1000)
        catalog = DemoCatalog(size=size, seed=SEED)
        snapshot = Snapshot(0, catalog.size, {}, frozenset(), (), ())
        encoder = PackageEncoder(catalog)
        for index in range(size):
            package = encoder.package(resolve(catalog, snapshot, index))
            writer.add(read_package(package, "http://generated.example", f"#{index}"))
        writer.flush()
        run.status = "succeeded"
        db.session.commit()
    (workdir / "complete").write_text(f"{size} datasets in {time.perf_counter() - started:.0f} s\n")
    return workdir
