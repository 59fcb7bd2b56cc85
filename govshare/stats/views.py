"""The home page: the sharing statistics (共享网站)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from govshare.catalog import selectors as catalog_selectors


def home(request: HttpRequest) -> HttpResponse:
    stats = catalog_selectors.public_statistics()
    return render(request, "portal/home.html", {"stats": stats})
