from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api import StrictQueryParams
from finops.allocation.rules import RulesError
from finops.api.serializers import (
    AllocationRulesVersionSerializer,
    CloudAccountSerializer,
    IngestionRunSerializer,
    IngestRequestSerializer,
    TeamSerializer,
)
from finops.filtersets import CloudAccountFilterSet, IngestionRunFilterSet, TeamFilterSet
from finops.models import AllocationRulesVersion, CloudAccount, IngestionRun, Team
from finops.permissions import IsOperatorOrReadOnly
from finops.services.accounts import cloud_account_create
from finops.services.allocation_rules import allocation_rules_publish
from finops.services.ingestion import IngestionRequestError, ingestion_request


class TeamViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet


class CloudAccountViewSet(
    StrictQueryParams, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):  # no delete: an account's history stays
    queryset = CloudAccount.objects.all()
    serializer_class = CloudAccountSerializer
    filterset_class = CloudAccountFilterSet
    permission_classes = [IsOperatorOrReadOnly]

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = cloud_account_create(**data)

    @extend_schema(request=IngestRequestSerializer, responses={202: IngestionRunSerializer})
    @action(detail=True, methods=["post"])
    def ingest(self, request, pk=None):
        """Start an ingestion run for this account; answers at once with the queued run."""
        account = self.get_object()
        params = IngestRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            run = ingestion_request(account=account, source=params.validated_data["source"])
        except IngestionRequestError as error:
            return Response({"errors": {"source": [str(error)]}}, status=status.HTTP_400_BAD_REQUEST)
        return Response(IngestionRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class IngestionRunViewSet(StrictQueryParams, viewsets.ReadOnlyModelViewSet):
    queryset = IngestionRun.objects.select_related("account")
    serializer_class = IngestionRunSerializer
    filterset_class = IngestionRunFilterSet


class AllocationRulesViewSet(StrictQueryParams, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Versions of the allocation rules, newest first. POST publishes the next version (operators)."""

    queryset = AllocationRulesVersion.objects.select_related("created_by")
    serializer_class = AllocationRulesVersionSerializer
    permission_classes = [IsOperatorOrReadOnly]
    lookup_field = "number"

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            version = allocation_rules_publish(
                document=serializer.validated_data["document"],
                user=request.user,
                comment=serializer.validated_data.get("comment", ""),
            )
        except RulesError as error:
            return Response(
                {"errors": {f"document.{path}": messages for path, messages in error.errors.items()}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(self.get_serializer(version).data, status=status.HTTP_201_CREATED)
