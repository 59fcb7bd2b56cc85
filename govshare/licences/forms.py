"""Forms of the licences portal pages: the window clerk's lookup (一号申请) and licence verification (验证).

Identifiers are checked with the platform's own GB 11643 / GB 32100 validators
(:func:`govshare.licences.payload.normalise_holder_id`), so a bad checksum is reported beside the field before
any service is called; the services check again.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from govshare.core.identifiers import IdentifierError
from govshare.licences.models import ServiceItem
from govshare.licences.payload import normalise_holder_id


class ItemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} {obj.name}"


class WindowLookupForm(forms.Form):
    """One 办件 at the window: case number, service item, and the applicant's identifier."""

    case_number = forms.CharField(label=_("办件编号"), max_length=64,
                                  help_text=_("受理系统生成的办件编号，将记入用证记录"))
    item = ItemChoiceField(label=_("事项"), queryset=ServiceItem.objects.none(), to_field_name="code",
                           empty_label=_("请选择事项"))
    holder = forms.CharField(label=_("身份证号 / 统一社会信用代码"), max_length=32,
                             help_text=_("申请人的公民身份号码（18 位）或企业的统一社会信用代码（18 位）"),
                             widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))

    def __init__(self, *args: Any, items: QuerySet[ServiceItem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["item"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = items

    def clean_holder(self) -> str:
        try:
            return normalise_holder_id(self.cleaned_data["holder"])
        except IdentifierError as exc:
            raise forms.ValidationError(_("证件号码无效：%(reason)s"), code="identifier",
                                        params={"reason": exc.message}) from None


class VerifyForm(forms.Form):
    """A licence number, optionally with the payload as presented (read from a licence file or QR code)."""

    number = forms.CharField(label=_("证照编号"), max_length=64, required=False,
                             help_text=_("如粘贴了证照数据，可不填（取证照数据中的编号）"))
    payload = forms.CharField(label=_("证照数据（可选）"), required=False, max_length=20_000,
                              widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
                              help_text=_("从电子证照文件或二维码读出的 JSON；与签名不符即判定为已被篡改"))

    def clean_payload(self) -> dict[str, Any] | None:
        text = (self.cleaned_data.get("payload") or "").strip()
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("证照数据不是有效的 JSON"), code="json") from None
        if not isinstance(data, dict):
            raise forms.ValidationError(_("证照数据须为 JSON 对象"), code="json")
        return data

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        number = (cleaned.get("number") or "").strip()
        payload = cleaned.get("payload")
        if not number and isinstance(payload, dict) and isinstance(payload.get("number"), str):
            number = payload["number"].strip()
        if not number and "number" not in self.errors and "payload" not in self.errors:
            self.add_error("number", _("请填写证照编号"))
        cleaned["number"] = number
        return cleaned
