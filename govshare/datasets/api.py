from ninja import Router

router = Router(tags=["datasets 数据集与挂接"])
