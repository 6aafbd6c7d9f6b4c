from __future__ import annotations

from rest_framework import serializers

from finops.models import Team


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "tag_values"]
