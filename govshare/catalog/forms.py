"""Forms of the catalog pages (目录系统). They only shape input: every rule lives in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from govshare.catalog import selectors
from govshare.catalog.choices import (
    DataType,
    OpenType,
    ResourceFormat,
    Secrecy,
    Sensitivity,
    ShareMode,
    ShareType,
    UpdateCycle,
)
from govshare.catalog.services import ItemSpec, ResourceFields
from govshare.organizations.models import Department
from govshare.organizations.selectors import departments_visible_to

MAX_UPLOAD_MB = 20


def _split(text: str) -> list[str]:
    """Comma / 、 / newline separated text as a list (tags, related codes)."""
    for sep in ("、", "，", "\n", ";", "；"):
        text = text.replace(sep, ",")
    return list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


def _with_blank(choices: Any, label: str) -> list[tuple[Any, str]]:
    return [("", label), *[(v, str(lbl)) for v, lbl in choices]]


class ResourceForm(forms.Form):
    """The editable metadata of a resource (services.ResourceFields)."""

    name = forms.CharField(label=_("信息资源名称"), max_length=200)
    classification_code = forms.ChoiceField(label=_("信息资源分类"))
    summary = forms.CharField(label=_("摘要"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    source_department = forms.ModelChoiceField(label=_("数源部门"), required=False, queryset=Department.objects.none(),
                                               help_text=_("数据的产生部门，与提供部门相同时留空"))
    formats = forms.MultipleChoiceField(label=_("格式"), required=False, choices=ResourceFormat.choices,
                                        widget=forms.CheckboxSelectMultiple)
    share_type = forms.ChoiceField(label=_("共享类型"), choices=ShareType.choices, initial=ShareType.CONDITIONAL)
    share_condition = forms.CharField(label=_("共享条件"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    share_modes = forms.MultipleChoiceField(label=_("共享方式"), required=False, choices=ShareMode.choices,
                                            widget=forms.CheckboxSelectMultiple, initial=[ShareMode.API])
    no_share_basis = forms.CharField(label=_("不予共享依据"), required=False,
                                     widget=forms.Textarea(attrs={"rows": 2}),
                                     help_text=_("共享类型为“不予共享”时必填（法律、行政法规或政策依据）"))
    open_type = forms.ChoiceField(label=_("开放属性"), choices=OpenType.choices, initial=OpenType.NONE)
    open_condition = forms.CharField(label=_("开放条件"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    update_cycle = forms.ChoiceField(label=_("更新周期"), choices=UpdateCycle.choices, initial=UpdateCycle.IRREGULAR)
    related_codes = forms.CharField(label=_("关联资源代码"), required=False, help_text=_("多个以逗号分隔"))
    secrecy = forms.ChoiceField(label=_("涉密属性"), choices=Secrecy.choices, initial=Secrecy.NON_SECRET,
                                help_text=_("只有非涉密资源可以提交和发布"))
    tags = forms.CharField(label=_("标签"), required=False, help_text=_("多个以逗号或顿号分隔"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["classification_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—"), *[(c.code, f"{c.code} {c.name}") for c in selectors.classifications()]]
        dept = self.fields["source_department"]
        assert isinstance(dept, forms.ModelChoiceField)
        node_id: Any = getattr(user, "node_id", None)
        dept.queryset = departments_visible_to(user).filter(node_id=node_id)

    def to_fields(self) -> ResourceFields:
        d = self.cleaned_data
        return ResourceFields(
            name=d["name"], classification_code=d["classification_code"], summary=d["summary"],
            source_department=d["source_department"], formats=list(d["formats"]), share_type=d["share_type"],
            share_condition=d["share_condition"], share_modes=list(d["share_modes"]),
            no_share_basis=d["no_share_basis"], open_type=d["open_type"], open_condition=d["open_condition"],
            update_cycle=d["update_cycle"], related_codes=_split(d["related_codes"]), secrecy=d["secrecy"],
            tags=_split(d["tags"]),
        )

    @staticmethod
    def initial_from(detail: dict[str, Any], source_department_id: Any) -> dict[str, Any]:
        """Initial values from ``selectors.detail`` (the working copy)."""
        keys = ("name", "classification_code", "summary", "formats", "share_type", "share_condition",
                "share_modes", "no_share_basis", "open_type", "open_condition", "update_cycle", "secrecy")
        out = {k: detail.get(k) for k in keys}
        out["related_codes"] = ", ".join(detail.get("related_codes") or [])
        out["tags"] = "、".join(detail.get("tags") or [])
        out["source_department"] = source_department_id
        return out


class ItemForm(forms.Form):
    """One 信息项 row of the editor. A row with neither name nor element is ignored."""

    name = forms.CharField(label=_("信息项名称"), max_length=100, required=False)
    element_code = forms.ChoiceField(label=_("数据元"), required=False)
    column_name = forms.CharField(label=_("英文列名"), max_length=64, required=False,
                                  help_text=_("留空取数据元的列名"))
    data_type = forms.ChoiceField(label=_("数据类型"), required=False)
    length = forms.IntegerField(label=_("长度"), required=False, min_value=1, max_value=1_000_000)
    sensitivity = forms.TypedChoiceField(label=_("敏感级别"), required=False, coerce=int, empty_value=None)
    required = forms.BooleanField(label=_("必填"), required=False)
    is_key = forms.BooleanField(label=_("主键"), required=False)

    def __init__(self, *args: Any, element_choices: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_choices("element_code", [("", "—"), *(element_choices or [])])
        self._set_choices("data_type", _with_blank(DataType.choices, str(_("同数据元"))))
        self._set_choices("sensitivity", _with_blank(Sensitivity.choices, str(_("同数据元"))))

    def _set_choices(self, name: str, choices: list[tuple[Any, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def is_blank(self) -> bool:
        d = getattr(self, "cleaned_data", {}) or {}
        return not (d.get("name") or d.get("element_code"))

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        if d.get("element_code") and not d.get("name"):
            self.add_error("name", _("请填写信息项名称"))
        if d.get("name") and not d.get("element_code"):
            self.add_error("element_code", _("请选择数据元"))
        return d

    def to_spec(self) -> ItemSpec:
        d = self.cleaned_data
        return ItemSpec(name=d["name"], element_code=d["element_code"], column_name=d["column_name"] or None,
                        data_type=d["data_type"] or None, length=d["length"], sensitivity=d["sensitivity"],
                        required=bool(d["required"]), is_key=bool(d["is_key"]))

    @staticmethod
    def initial_from(item: dict[str, Any]) -> dict[str, Any]:
        return {"name": item["name"], "element_code": item["element_code"], "column_name": item["column_name"],
                "data_type": item["data_type"], "length": item["length"], "sensitivity": item["sensitivity"],
                "required": item["required"], "is_key": item["is_key"]}


ItemFormSet = forms.formset_factory(ItemForm, extra=3, max_num=200, validate_max=True)


def element_choices() -> list[tuple[str, str]]:
    return [(code, f"{code} {name} (L{level})")
            for code, name, level in selectors.data_elements().values_list("code", "name", "sensitivity")]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("目录文件"),
                           help_text=_("目录编制工作簿 (XLSX)、CSV、JSON，或导出的 CSV 压缩包 (ZIP)"))
    items_file = forms.FileField(label=_("信息项 CSV"), required=False,
                                 help_text=_("上传 CSV 时可附带其 _items.csv"))
    partial = forms.BooleanField(label=_("部分导入"), required=False,
                                 help_text=_("勾选时保留合格的行；不勾选时有任何一行出错即全部不导入"))
    create_departments = forms.BooleanField(label=_("自动新建未知部门"), required=False,
                                            help_text=_("仅数据主管部门可用，新部门使用占位统一社会信用代码"))
    classification = forms.CharField(label=_("默认分类代码"), required=False, max_length=32,
                                     help_text=_("外部目录记录的默认分类，留空为 399001 其他部门信息"))

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f is not None and f.size > MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(_("文件超过 %(mb)s MB") % {"mb": MAX_UPLOAD_MB})
        return f


class ElementSearchForm(forms.Form):
    q = forms.CharField(label=_("检索"), required=False, max_length=100)
    sensitivity = forms.TypedChoiceField(label=_("敏感级别"), required=False, coerce=int, empty_value=None,
                                         choices=_with_blank(Sensitivity.choices, "—"))
