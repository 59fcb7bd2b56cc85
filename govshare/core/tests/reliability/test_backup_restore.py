"""``govshare backup`` / ``govshare restore`` round-trip a demo city: taken online (the server keeps answering
data-plane calls during the backup), restored into a fresh node and over the original one, the audit chain
verifying after each restore. The key-encryption key is not in a backup unless ``--include-keys``; a restore with
the wrong KEK is refused before anything changes."""

from __future__ import annotations

import shutil
import tarfile
import threading
import time
from pathlib import Path

import pytest

from govshare.cli import VERBS
from govshare.core.testing_processes import Node, WebSession, wait_for
from govshare.core.tests.reliability.conftest import City
from govshare.core.tests.reliability.load import PEOPLE, Verifier, dataset_of, lift_limits, new_people
from govshare.demo.city import DEMO_PASSWORD

pytestmark = pytest.mark.reliability

# `govshare backup` / `govshare restore` once the verbs are in govshare/cli.py VERBS; `govshare manage …` until then.
BACKUP = ("backup",) if "backup" in VERBS else ("manage", "backup")
RESTORE = ("restore",) if "restore" in VERBS else ("manage", "restore")
STABLE = ("accounts_user", "catalog_resource", "datasets_dataset", "exchange_grant", "datasets_datasetchange")


def counts(node: Node) -> dict[str, int]:
    return {table: int(node.scalar(f"SELECT count(*) FROM {table}")) for table in STABLE}  # noqa: S608


def verify(node: Node) -> None:
    done = node.run("audit", "verify", check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def members(path: Path) -> set[str]:
    with tarfile.open(path) as tar:
        return set(tar.getnames())


def test_backup_online_then_restore_into_a_fresh_node_and_over_the_original(demo_city: City, tmp_path: Path) -> None:
    source = demo_city.node
    lift_limits(source)
    source.run("audit", "seal")
    server = source.start_server(workers=2)
    verifier = Verifier(demo_city.credential(), demo_city.summary["verify"], lambda: server.url)
    stop = threading.Event()
    load = threading.Thread(target=verifier.run, args=(stop,), daemon=True)
    load.start()
    archive = tmp_path / "city.tar.gz"
    try:
        wait_for(lambda: len(verifier.ok_ids) >= 3, timeout=60, message="calls flow")
        during = len(verifier.ok_ids)
        started = time.perf_counter()
        source.run(*BACKUP, str(archive))  # online: the server keeps serving and writing audit events
        seconds = time.perf_counter() - started
        wait_for(lambda: len(verifier.ok_ids) > during + 2, timeout=60, message="calls flow after the backup")
        at_backup = counts(source)
        # A change after the backup: it must be gone after a restore of that backup.
        dataset_id, provider = dataset_of(source, PEOPLE)
        web = WebSession(server.url)
        web.sign_in(provider, DEMO_PASSWORD)
        status, _ = web.request("POST", f"/api/v1/datasets/{dataset_id}/batches",
                                {"batch_id": "after-backup", "upserts": new_people(5000, 3)})
        assert status == 201
    finally:
        stop.set()
        load.join(timeout=60)
        source.stop(server)
    assert not verifier.failures, verifier.failures  # the backup disturbed no call
    names = members(archive)
    database = "database.sqlite3" if source.backend.vendor == "sqlite" else "database.pgdump"
    assert {"govshare-backup.json", database, "home/audit/heads.jsonl"} <= names
    assert not {"home/kek.hex", "home/secret_key"} & names  # no key material by default

    # 1. A fresh node (new home, empty database) has its own, new KEK: the restore is refused, nothing changes.
    fresh = Node.create(tmp_path / "fresh", backend=source.backend)
    try:
        refused = fresh.run(*RESTORE, str(archive), check=False)
        assert refused.returncode != 0 and "KEK" in refused.stderr, refused.stderr
        assert not (fresh.home / "audit" / "heads.jsonl").exists()
        # With the original KEK in place (kept apart from the backups) it restores.
        shutil.copy(source.home / "kek.hex", fresh.home / "kek.hex")
        fresh.run(*RESTORE, str(archive))
        restored = counts(fresh)
        assert restored["accounts_user"] == at_backup["accounts_user"]
        assert restored["catalog_resource"] == at_backup["catalog_resource"]
        assert fresh.scalar("SELECT count(*) FROM datasets_changebatch WHERE batch_id = 'after-backup'") == 0
        fresh.run("audit", "seal")  # signs with the node's SM2 key, decrypted with the KEK: the keys work
        verify(fresh)  # the restored chain and the new block
    finally:
        fresh.destroy()

    # 2. Over the original node: refused without --force; with it the database goes back to the backup. The
    #    heads file has the blocks sealed since (the seal below): replaced only with --replace-heads.
    source.run("audit", "seal")
    refused = source.run(*RESTORE, str(archive), check=False)
    assert refused.returncode != 0
    source.run(*RESTORE, str(archive), "--force", "--replace-heads")
    assert source.scalar("SELECT count(*) FROM datasets_changebatch WHERE batch_id = 'after-backup'") == 0
    assert list((source.home / "audit").glob("heads.jsonl.before-restore-*"))
    verify(source)

    # 3. --include-keys: the archive carries kek.hex; a fresh node takes it (its own generated KEK is kept aside).
    keyed = tmp_path / "keyed.tar.gz"
    source.run(*BACKUP, str(keyed), "--include-keys")
    assert {"home/kek.hex", "home/secret_key"} <= members(keyed)
    other = Node.create(tmp_path / "other", backend=source.backend)
    try:
        other.run(*RESTORE, str(keyed))
        assert (other.home / "kek.hex").read_text() == (source.home / "kek.hex").read_text()
        assert list(other.home.glob("kek.hex.before-restore-*"))
        other.run("audit", "seal")
        verify(other)
    finally:
        other.destroy()
    print(f"\nonline backup of the demo city: {seconds:.1f} s, {archive.stat().st_size / 1048576:.1f} MiB "
          f"({source.backend.vendor}); {len(verifier.ok_ids)} data-plane calls answered meanwhile, 0 failed")
