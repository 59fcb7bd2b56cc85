"""Forms of the quality pages. Field names follow the services' error fields (``record_key``, ``column``,
``reason``, ``text``, ``params`` …) so a refusal shows beside the field it names."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from govshare.datasets.validation import Column
from govshare.quality.choices import DisputeCategory, RuleKind


class DisputeForm(forms.Form):
    record_key = forms.CharField(label=_("记录主键"), max_length=128, help_text=_("如该记录的公民身份号码"))
    column = forms.ChoiceField(label=_("信息项"), required=False)
    category = forms.ChoiceField(label=_("疑义类别"), choices=DisputeCategory.choices,
                                 initial=DisputeCategory.WRONG_VALUE)
    reason = forms.CharField(label=_("疑义说明"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)

    def __init__(self, *args: Any, items: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["column"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("（整条记录）")), *[(c, f"{n}（{c}）") for c, n in items]]


class ActionTextForm(forms.Form):
    text = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           max_length=2000)


class CorrectionForm(forms.Form):
    """One field per item a correction may change, prefilled with the record's current value; an emptied
    field empties the item. Only the items whose value changes are sent."""

    text = forms.CharField(label=_("更正说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                           max_length=2000)

    def __init__(self, *args: Any, columns: list[Column], current: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        self.current = current
        for c in columns:
            value = current.get(c.column_name)
            self.fields[f"c_{c.column_name}"] = forms.CharField(
                label=f"{c.name}（{c.column_name}）", required=False, max_length=2000,
                initial="" if value is None else str(value))
        self.order_fields([*(f"c_{c.column_name}" for c in columns), "text"])

    def corrections(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for c in self.columns:
            new = (self.cleaned_data.get(f"c_{c.column_name}") or "").strip() or None
            old = self.current.get(c.column_name)
            if new != (None if old in (None, "") else str(old)):
                out[c.column_name] = new
        return out


class RuleForm(forms.Form):
    element_code = forms.CharField(label=_("数据元编码"), required=False, max_length=32,
                                   help_text=_("规则作用于带此数据元的所有信息项（仅数据主管部门）；与“资源+信息项”二选一"))
    resource_id = forms.ChoiceField(label=_("信息资源"), required=False)
    column = forms.CharField(label=_("信息项（列名）"), required=False, max_length=64)
    kind = forms.ChoiceField(label=_("规则类型"), choices=RuleKind.choices)
    params = forms.CharField(label=_("参数（JSON）"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_('如 {"min": 2, "max": 20}、{"values": ["男", "女"]}、{"regex": "…"}'))
    message = forms.CharField(label=_("提示语"), required=False, max_length=200)

    def __init__(self, *args: Any, resources: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["resource_id"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—"), *resources]

    def clean_params(self) -> dict[str, Any]:
        raw = (self.cleaned_data.get("params") or "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("参数须为 JSON 对象")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("参数须为 JSON 对象"))
        return value
