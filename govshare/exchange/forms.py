"""Forms of the exchange pages. Field names match the fields the exchange services name in their errors
(``items``, ``modes``, ``purpose``, ``valid_to``, ``system_id``, ``reason``, ``refusal_reason`` …), so a
service's error lands beside the field it is about."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from govshare.catalog.choices import Sensitivity
from govshare.exchange.choices import ExchangeMode, ItemMode, RefusalReason, SuspensionScope
from govshare.exchange.services.grants import Decision


def _choices(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field



def _date_input() -> forms.DateInput:
    # ISO format: an <input type="date"> cannot show the locale's 2027/12/07 and would arrive empty.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

class ResourceLookupForm(forms.Form):
    resource = forms.CharField(label=_("信息资源代码"), max_length=64)


def _item_label(item: dict[str, Any]) -> str:
    level = item.get("sensitivity")
    level_label = Sensitivity(level).label if level in Sensitivity.values else str(level)
    return f"{item['name']} ({item['column_name']}) · {level_label}"


class ApplyForm(forms.Form):
    """共享申请: items and modes are limited to what the resource publishes and offers."""

    resource = forms.CharField(widget=forms.HiddenInput)
    items = forms.MultipleChoiceField(label=_("申请信息项"), widget=forms.CheckboxSelectMultiple,
                                      help_text=_("只选履职所需的信息项(最小必要)；括号内为敏感级别。"))
    modes = forms.MultipleChoiceField(label=_("交换方式"), widget=forms.CheckboxSelectMultiple)
    purpose = forms.CharField(label=_("申请事由"), widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("写明办理的业务事项；每次调用都会记录事由。"))
    legal_basis = forms.CharField(label=_("依据"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text=_("法律法规、政策文件或“三定”职责依据。"))
    system_id = forms.ChoiceField(label=_("使用系统"),
                                  help_text=_("授权属于本部门的这个信息系统，调用时使用它的凭证。"))
    valid_from = forms.DateField(label=_("有效期自"), required=False,
                                 widget=_date_input(), help_text=_("留空为今天"))
    valid_to = forms.DateField(label=_("有效期至"), widget=_date_input())

    def __init__(self, *args: Any, items: list[dict[str, Any]], modes: list[ExchangeMode],
                 systems: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "items").choices = [(i["column_name"], _item_label(i)) for i in items]
        _choices(self, "modes").choices = [(m.value, m.label) for m in modes]
        _choices(self, "system_id").choices = [("", "——"), *systems]
        if not self.is_bound:
            self.initial.setdefault("valid_to", timezone.localdate() + dt.timedelta(days=365))


class ReasonForm(forms.Form):
    """One review action with its reason (理由); whether the reason is required is the service's rule."""

    reason = forms.CharField(label=_("理由/说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             max_length=2000)


class RefuseForm(forms.Form):
    """提供方拒绝: a reason from the fixed list plus text (no conditions that block sharing)."""

    refusal_reason = forms.ChoiceField(label=_("拒绝理由"),
                                       choices=[("", "——"), *list(RefusalReason.choices)])
    reason = forms.CharField(label=_("具体说明"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


MODE_CHOICES = [("", _("不授权")), *list(ItemMode.choices)]


class DecisionForm(forms.Form):
    """提供方同意: a mode per applied item (明文/脱敏/仅核验, or leave out), validity, limits, a row filter."""

    modes = forms.MultipleChoiceField(label=_("交换方式"), widget=forms.CheckboxSelectMultiple)
    valid_to = forms.DateField(label=_("授权有效期至"), required=False,
                               widget=_date_input(),
                               help_text=_("只能缩短，不能延长；留空为申请的有效期"))
    rate_limit_per_minute = forms.IntegerField(label=_("每分钟调用上限"), min_value=1, max_value=1_000_000,
                                               initial=600)
    daily_quota = forms.IntegerField(label=_("每日调用配额"), min_value=1, max_value=1_000_000_000, initial=10000)
    verify_quota_per_key = forms.IntegerField(label=_("同一号码每日核验次数"), min_value=1, max_value=1_000_000,
                                              initial=5)
    verify_all_match_only = forms.BooleanField(label=_("核验只回答“全部一致”与否"), required=False)
    row_filter = forms.CharField(label=_("行过滤条件"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                 help_text=_('例: household_region in ("445102", "445103")'))

    def __init__(self, *args: Any, items: list[dict[str, Any]], modes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item_fields: list[str] = []
        for item in items:
            name = f"mode_{item['column_name']}"
            level = item.get("sensitivity") or 1
            default = ItemMode.PLAIN if level <= Sensitivity.L2 else ItemMode.MASKED
            self.fields[name] = forms.ChoiceField(label=_item_label(item), choices=MODE_CHOICES, required=False,
                                                  initial=default)
            self.item_fields.append(name)
        _choices(self, "modes").choices = [(m, ExchangeMode(m).label if m in ExchangeMode.values else m)
                                        for m in modes]
        self.fields["modes"].initial = list(modes)
        self.fields["modes"].help_text = _("只能是申请范围内的方式")
        self.order_fields(self.item_fields)

    def item_modes(self) -> dict[str, str]:
        return {name.removeprefix("mode_"): self.cleaned_data[name] for name in self.item_fields
                if self.cleaned_data.get(name)}

    def decision(self) -> Decision:
        d = self.cleaned_data
        return Decision(items=self.item_modes(), valid_to=d.get("valid_to"),
                        rate_limit_per_minute=d["rate_limit_per_minute"], daily_quota=d["daily_quota"],
                        verify_quota_per_key=d["verify_quota_per_key"],
                        verify_all_match_only=bool(d.get("verify_all_match_only")),
                        row_filter=(d.get("row_filter") or "").strip() or None, modes=list(d["modes"]))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.item_fields and not any(data.get(n) for n in self.item_fields):
            self.add_error(self.item_fields[0], _("至少授权一个信息项"))
        return data


class GuardOverrideForm(forms.Form):
    """安全管理员 accepts the inference-guard risk of one exact set of item modes, with a reason."""

    reason = forms.CharField(label=_("批准理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args: Any, items: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item_fields: list[str] = []
        for item in items:
            name = f"mode_{item['column_name']}"
            self.fields[name] = forms.ChoiceField(label=_item_label(item), choices=MODE_CHOICES, required=False)
            self.item_fields.append(name)
        self.order_fields([*self.item_fields, "reason"])

    def item_modes(self) -> dict[str, str]:
        return {name.removeprefix("mode_"): self.cleaned_data[name] for name in self.item_fields
                if self.cleaned_data.get(name)}


class SuspendForm(forms.Form):
    """应急停用: a grant, an information system or a whole department."""

    scope = forms.ChoiceField(label=_("停用范围"), choices=SuspensionScope.choices, widget=forms.HiddenInput)
    target_id = forms.ChoiceField(label=_("停用对象"))
    reason = forms.CharField(label=_("停用理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args: Any, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "target_id").choices = [("", "——"), *targets]
