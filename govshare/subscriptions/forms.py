"""Forms of the subscription pages. Field names follow the service's error fields (``grant_id``, ``url``,
``host`` …) so a refusal shows beside the field it names."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from govshare.exchange.models import Grant
from govshare.subscriptions.choices import SinkEngine, SubscriptionKind
from govshare.subscriptions.services import SinkSpec


class SubscriptionForm(forms.Form):
    grant_id = forms.ChoiceField(label=_("授权"), help_text=_("本部门包含“订阅”交换方式的有效授权（L4 资源请用拉取）"))
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("推送方式"), choices=SubscriptionKind.choices, widget=forms.RadioSelect,
                             initial=SubscriptionKind.WEBHOOK)
    url = forms.CharField(label=_("Webhook 地址"), required=False, max_length=2000,
                          help_text=_("须在本节点的出站白名单内（webhook 用途）；仅 http/https"))
    batch_size = forms.IntegerField(label=_("每批条数"), required=False, min_value=1, max_value=100_000,
                                    help_text=_("留空使用默认值"))
    initial_data = forms.BooleanField(label=_("先投递初始数据（当前授权视图的全量快照）"), required=False, initial=True)
    engine = forms.ChoiceField(label=_("目标库类型（库表推送）"), required=False,
                               choices=[("", "—"), *SinkEngine.choices])
    host = forms.CharField(label=_("主机"), required=False, max_length=255,
                           help_text=_("须在本节点的出站白名单内（connector 用途）"))
    port = forms.IntegerField(label=_("端口"), required=False, min_value=1, max_value=65535)
    database = forms.CharField(label=_("数据库名 / SQLite 文件路径"), required=False, max_length=500)
    user = forms.CharField(label=_("数据库用户"), required=False, max_length=128)
    password = forms.CharField(label=_("数据库密码"), required=False, max_length=512,
                               widget=forms.PasswordInput(render_value=False),
                               help_text=_("加密保存，不再显示"))
    table = forms.CharField(label=_("目标表"), required=False, max_length=130, help_text=_("如 gs.people"))
    key_column = forms.CharField(label=_("主键列"), required=False, max_length=64)

    def __init__(self, *args: Any, grants: list[Grant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grants = {str(g.pk): g for g in grants}
        field = self.fields["grant_id"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (str(g.pk), f"{g.resource.code} {g.resource.name}（{g.system.name}，至 {g.valid_to:%Y-%m-%d}）")
            for g in grants]

    def grant(self) -> Grant:
        return self.grants[self.cleaned_data["grant_id"]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == SubscriptionKind.WEBHOOK and not (data.get("url") or "").strip():
            self.add_error("url", _("Webhook 推送须填写地址"))
        if data.get("kind") == SubscriptionKind.TABLE:
            for name in ("engine", "database", "table", "key_column"):
                if not data.get(name):
                    self.add_error(name, _("库表推送必填"))
        return data

    def sink(self) -> SinkSpec | None:
        d = self.cleaned_data
        if d["kind"] != SubscriptionKind.TABLE:
            return None
        return SinkSpec(engine=d["engine"], database=d["database"], table=d["table"], key_column=d["key_column"],
                        host=d.get("host") or "", port=d.get("port"), user=d.get("user") or "",
                        password=d.get("password") or "")


class SubscriptionEditForm(forms.Form):
    """Name, batch size and (for a webhook) the URL; a table sink's connection is changed through the API."""

    name = forms.CharField(label=_("名称"), max_length=100)
    batch_size = forms.IntegerField(label=_("每批条数"), min_value=1, max_value=100_000)
    url = forms.CharField(label=_("Webhook 地址"), required=False, max_length=2000,
                          help_text=_("须在本节点的出站白名单内（webhook 用途）"))

    def __init__(self, *args: Any, webhook: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not webhook:
            del self.fields["url"]
        else:
            self.fields["url"].required = True


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), required=False, max_length=200)
