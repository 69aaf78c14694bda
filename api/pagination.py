"""Cursor (keyset) pagination for the large lists: no COUNT(*) and no OFFSET scans.

Each page is ``WHERE ordering_field < last_seen ORDER BY ordering_field LIMIT n`` on an
indexed column, so page 10,000 costs what page 1 costs. Clients follow ``next``.
"""
from __future__ import annotations

from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    """Newest id first; ``page_size`` up to 500; honours an OrderingFilter on the view."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
