"""Who am I: the token's user and roles (scripts check this before doing work)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import MeSerializer


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="The authenticated user and their roles", responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)
