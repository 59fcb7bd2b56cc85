"""The govshare 目录编制 workbook: the layout the exporter writes and the importer reads back.

XLSX, three sheets; row 1 of each holds the Chinese column headers, data starts on row 2:

Sheet ``信息资源`` — one row per resource:

==========================  =====================================================================
信息资源代码                  code as assigned by the exporting node; links the rows of 信息项
信息资源名称                  name (required)
资源分类代码                  classification code without spaces, e.g. 399001 (3 99 001 其他部门信息)
提供方                        providing department's name
提供方代码(统一社会信用代码)   providing department's 统一社会信用代码; matched before the name
数源部门                      producing department's name, when different from the provider
摘要                          summary
格式                          formats as labels joined by 、: 数据库、电子表格、电子文件、图形图像、流媒体、接口、其他
共享类型                      无条件共享 / 有条件共享 / 不予共享
共享条件                      conditions text
共享方式                      接口、库表、文件 (joined by 、)
不予共享依据                  legal basis, required with 不予共享
开放类型                      无条件开放 / 有条件开放 / 不予开放
开放条件                      conditions text
更新周期                      实时 / 每日 / 每周 / 每月 / 每季度 / 每半年 / 每年 / 不定期
发布日期                      YYYY-MM-DD
关联资源代码                  resource codes joined by 、
涉密属性                      非涉密 / 涉密 (涉密 rows are refused: classified data never enters the platform)
敏感级别                      L1–L4, computed from the items (就高从严); informational on import
状态                          草稿 / 待审核 / 已发布 / …; informational on import (imports create drafts)
标签                          tags joined by 、
==========================  =====================================================================

Sheet ``信息项`` — one row per data item: 信息资源代码 (the resource row it belongs to), 序号, 信息项名称,
数据元代码 (an entry of the node's data dictionary), 列名, 数据类型 (字符型/整数型/数值型/日期型/日期时间型/
布尔型/枚举型), 长度, 敏感级别 (L1–L4, never below the data element's), 必填 (是/否), 主键 (是/否).

Sheet ``说明`` repeats this description for the people filling the workbook; the importer ignores it.

CSV: the 信息资源 sheet as ``NAME.csv`` and the 信息项 sheet as ``NAME_items.csv``, both UTF-8 with a BOM
(so that Excel opens them), comma-separated. Text cells starting with = + - @ are written with a leading
apostrophe (formula injection); the importer removes it again.
"""

from __future__ import annotations

RESOURCE_SHEET = "信息资源"
ITEM_SHEET = "信息项"
README_SHEET = "说明"
ITEMS_CSV_SUFFIX = "_items.csv"

# (header, resource field in mapping.json, description for the 说明 sheet)
RESOURCE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("信息资源代码", "code", "本节点分配的代码；信息项表以此关联 (links the 信息项 rows)"),
    ("信息资源名称", "name", "必填 (required)"),
    ("资源分类代码", "classification_code", "分类码，不含空格，如 399001 (3 99 001 其他部门信息)"),
    ("提供方", "provider", "提供部门名称 (providing department)"),
    ("提供方代码(统一社会信用代码)", "provider_uscc", "提供部门的统一社会信用代码，优先于名称匹配"),
    ("数源部门", "source_department", "数据产生部门，与提供方不同时填写 (producing department)"),
    ("摘要", "summary", "提交审核前必填 (required before submission)"),
    ("格式", "formats", "数据库、电子表格、电子文件、图形图像、流媒体、接口、其他，以顿号分隔"),
    ("共享类型", "share_type", "无条件共享 / 有条件共享 / 不予共享"),
    ("共享条件", "share_condition", "有条件共享的条件 (conditions)"),
    ("共享方式", "share_modes", "接口、库表、文件，以顿号分隔"),
    ("不予共享依据", "no_share_basis", "不予共享时必填：法律、行政法规或政策依据"),
    ("开放类型", "open_type", "无条件开放 / 有条件开放 / 不予开放"),
    ("开放条件", "open_condition", "有条件开放的条件 (conditions)"),
    ("更新周期", "update_cycle", "实时 / 每日 / 每周 / 每月 / 每季度 / 每半年 / 每年 / 不定期"),
    ("发布日期", "published_on", "YYYY-MM-DD"),
    ("关联资源代码", "related_codes", "以顿号分隔 (codes joined by 、)"),
    ("涉密属性", "secrecy", "非涉密 / 涉密；涉密资源不得进入平台 (classified data is refused)"),
    ("敏感级别", "", "L1–L4，由信息项就高从严计算，导入时忽略 (computed; ignored on import)"),
    ("状态", "", "导出时的状态；导入一律为草稿 (imports always create drafts)"),
    ("标签", "tags", "以顿号分隔 (tags joined by 、)"),
)

ITEM_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("信息资源代码", "resource_code", "所属资源的信息资源代码 (the resource row's code)"),
    ("序号", "position", "从 1 开始 (from 1)"),
    ("信息项名称", "name", "必填 (required)"),
    ("数据元代码", "element_code", "数据元字典中的代码，如 DE0001；为空时按信息项名称匹配数据元"),
    ("列名", "column_name", "英文列名，默认取数据元的列名 (defaults to the element's column)"),
    ("数据类型", "data_type", "字符型 / 整数型 / 数值型 / 日期型 / 日期时间型 / 布尔型 / 枚举型"),
    ("长度", "length", "整数 (integer)"),
    ("敏感级别", "sensitivity", "L1–L4，不得低于数据元的级别 (never below the element's level)"),
    ("必填", "required", "是 / 否"),
    ("主键", "is_key", "是 / 否；每个资源最多一个 (at most one per resource)"),
)

RESOURCE_HEADERS = tuple(c[0] for c in RESOURCE_COLUMNS)
ITEM_HEADERS = tuple(c[0] for c in ITEM_COLUMNS)
