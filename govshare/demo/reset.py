"""``govshare demo --reset``: throw the demo database away.

SQLite: the database file is deleted. PostgreSQL (and other servers): the platform's tables are dropped
(``DROP TABLE … CASCADE``) and ``migrate`` creates them again. Dropping rather than ``flush`` also
clears tables Django does not manage (the search index) and does not depend on TRUNCATE being granted
on the append-only audit tables. Only tables of govshare's installed apps are touched.
"""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction

from govshare.core import calendar
from govshare.core.crypto.envelope import clear_key_cache
from govshare.demo.builder import DemoError, database_state, describe_other_data


def _refuse_real_installation() -> None:
    try:
        state = database_state()
        other = describe_other_data() if state == "other" else ""
    except DatabaseError:  # no schema yet: nothing to protect
        return
    if state == "other":
        raise DemoError(f"此数据库有{other}，--reset 拒绝清空它。请为演示另设 GOVSHARE_HOME 或 DATABASE_URL。")


def sqlite_file(alias: str = "default") -> Path | None:
    """The database file when the database is an on-disk SQLite file, else None."""
    conn = connections[alias]
    name = str(conn.settings_dict.get("NAME") or "")
    if conn.vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _drop_platform_tables(alias: str = "default") -> int:
    conn = connections[alias]
    prefixes = (*(f"{cfg.label}_" for cfg in apps.get_app_configs()), "django_")
    with transaction.atomic(using=alias), conn.cursor() as cursor:
        names = [t.name for t in conn.introspection.get_table_list(cursor)
                 if t.type == "t" and t.name.startswith(prefixes)]
        if names:
            cursor.execute("DROP TABLE " + ", ".join(conn.ops.quote_name(n) for n in names) + " CASCADE")
    return len(names)


def reset_database() -> str:
    """Empty the database; return what was done (for the operator). Refuses a non-demo installation."""
    _refuse_real_installation()
    path = sqlite_file()
    if path is not None:
        connections.close_all()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        done = f"已删除 SQLite 数据库文件 {path}"
    elif connections["default"].vendor == "sqlite":  # in-memory (tests)
        call_command("flush", interactive=False, verbosity=0)
        done = "已清空数据库（flush）"
    else:
        done = f"已删除数据库中 govshare 的 {_drop_platform_tables()} 张数据表，将重新建表"
    # In-process caches of rows that no longer exist: wrapped data keys and the holiday table.
    clear_key_cache()
    calendar.invalidate_cache()
    return done
