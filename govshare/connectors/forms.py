"""Forms of the connector pages. Field names are the service's (``host``, ``database``, ``column_map`` …), so
a refusal — the allowlist first — shows beside the field it names. The password is write-only: never rendered
back into the page."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from govshare.connectors.choices import Engine, IncrementalType
from govshare.connectors.drivers import PG_SSLMODES
from govshare.connectors.models import SourceConnector
from govshare.datasets.models import Dataset


def parse_column_map(raw: str) -> dict[str, str]:
    """``sfzh = id_number`` lines (or one JSON object) → {source column: dataset column}."""
    raw = (raw or "").strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("列映射须为 JSON 对象或“源列 = 数据集列”逐行书写")) from None
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise forms.ValidationError(_("列映射须为 JSON 对象或“源列 = 数据集列”逐行书写"))
        return value
    out: dict[str, str] = {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        source, sep, target = line.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise forms.ValidationError(_("每行写作“源列 = 数据集列”：%(line)s") % {"line": line.strip()[:60]})
        out[source.strip()] = target.strip()
    return out


class ConnectorForm(forms.Form):
    dataset_id = forms.ChoiceField(label=_("挂接的数据集"))
    name = forms.CharField(label=_("名称"), max_length=120)
    engine = forms.ChoiceField(label=_("数据库类型"), choices=Engine.choices)
    host = forms.CharField(label=_("主机"), required=False, max_length=255,
                           help_text=_("须在本节点的出站白名单内（connector 用途）；SQLite 留空"))
    port = forms.IntegerField(label=_("端口"), required=False, min_value=1, max_value=65535,
                              help_text=_("留空：PostgreSQL 5432，MySQL 3306"))
    database = forms.CharField(label=_("数据库名 / SQLite 文件路径"), max_length=500)
    user = forms.CharField(label=_("只读账号"), required=False, max_length=128)
    password = forms.CharField(label=_("密码"), required=False, max_length=512,
                               widget=forms.PasswordInput(render_value=False),
                               help_text=_("加密保存，页面不再显示"))
    sslmode = forms.ChoiceField(label=_("SSL 模式（PostgreSQL）"), required=False,
                                choices=[("", "—"), *[(m, m) for m in sorted(PG_SSLMODES)]])
    source_table = forms.CharField(label=_("源表或视图"), required=False, max_length=255, help_text=_("如 jh.rk_jbxx"))
    source_query = forms.CharField(label=_("或：只读查询（SELECT / WITH）"), required=False, max_length=20_000,
                                   widget=forms.Textarea(attrs={"rows": 3}))
    column_map = forms.CharField(label=_("列映射"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
                                 help_text=_("每行“源列 = 数据集列”，如 sfzh = id_number；留空按同名映射"))
    key_column = forms.CharField(label=_("主键列（源）"), required=False, max_length=128)
    incremental_column = forms.CharField(label=_("增量列（源，如更新时间）"), required=False, max_length=128,
                                         help_text=_("留空：每次读取全部（仅靠对账）"))
    incremental_type = forms.ChoiceField(label=_("增量列类型"), choices=IncrementalType.choices)
    overlap_seconds = forms.IntegerField(label=_("重叠窗口（秒）"), min_value=0, max_value=7 * 86400, initial=300,
                                         help_text=_("下一次从“水位 − 重叠”开始读，以免遗漏迟提交的事务"))
    page_size = forms.IntegerField(label=_("每页行数"), min_value=1, max_value=100_000, initial=1000)
    pull_interval_seconds = forms.IntegerField(label=_("拉取间隔（秒）"), required=False, min_value=1,
                                               max_value=366 * 86400, help_text=_("留空：按资源的更新周期"))
    reconcile_interval_seconds = forms.IntegerField(label=_("对账间隔（秒）"), required=False, min_value=1,
                                                    max_value=366 * 86400, help_text=_("留空：每天一次"))
    clear_password = forms.BooleanField(label=_("清除已保存的密码"), required=False)
    verify = forms.BooleanField(label=_("保存前测试连接和源表列（不读取数据）"), required=False, initial=True)

    def __init__(self, *args: Any, datasets: list[Dataset] | None = None,
                 connector: SourceConnector | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connector = connector
        if connector is None:
            del self.fields["clear_password"]
            field = self.fields["dataset_id"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(str(d.pk), f"{d.resource.code} {d.resource.name}") for d in datasets or []]
        else:
            del self.fields["dataset_id"]
            self.fields["password"].help_text = (_("已设置密码；留空保持不变") if connector.password_enc
                                                 else _("未设置密码"))

    def clean_column_map(self) -> dict[str, str]:
        return parse_column_map(self.cleaned_data.get("column_map") or "")

    def config_values(self) -> dict[str, Any]:
        """The Config fields (password only when given; ``clear_password`` empties it)."""
        d = self.cleaned_data
        values: dict[str, Any] = {k: d[k] for k in (
            "name", "engine", "host", "port", "database", "user", "source_table", "source_query", "column_map",
            "key_column", "incremental_column", "incremental_type", "overlap_seconds", "page_size",
            "pull_interval_seconds", "reconcile_interval_seconds")}
        values["options"] = {"sslmode": d["sslmode"]} if d.get("sslmode") and d["engine"] == Engine.POSTGRESQL else {}
        if d.get("password"):
            values["password"] = d["password"]
        elif d.get("clear_password"):
            values["password"] = ""
        return values


def initial_of(connector: SourceConnector) -> dict[str, Any]:
    """The form's initial values of a stored connector (never the password)."""
    fields = ("name", "engine", "host", "port", "database", "user", "source_table", "source_query", "key_column",
              "incremental_column", "incremental_type", "overlap_seconds", "page_size", "pull_interval_seconds",
              "reconcile_interval_seconds")
    initial: dict[str, Any] = {k: getattr(connector, k) for k in fields}
    initial["column_map"] = "\n".join(f"{s} = {t}" for s, t in (connector.column_map or {}).items())
    initial["sslmode"] = (connector.options or {}).get("sslmode", "")
    initial["verify"] = True
    return initial
