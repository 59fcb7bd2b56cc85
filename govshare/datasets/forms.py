"""Forms of the dataset pages (挂接与上传)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class UploadForm(forms.Form):
    file = forms.FileField(label=_("数据文件"),
                           help_text=_("CSV（UTF-8、带 BOM 的 UTF-8、GBK/GB18030）、XLSX 或 JSON；"
                                       "表头用信息项名称或英文列名。上传整体替换现有数据，有任何问题则不写入。"))
