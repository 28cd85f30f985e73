"""SPEC-gateway "Frames and limits": the default limits are API Gateway's WebSocket quotas.

Source: the API Gateway quotas page for WebSocket APIs
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html):
frame size 32 KB, message payload size 128 KB, idle connection timeout 10 minutes, connection
duration 2 hours, integration timeout 29 seconds. Integration tests shrink these, so only this
test sees the real values.
"""

from __future__ import annotations

from workshop_utils.localcloud import GatewayLimits
from workshop_utils.localcloud.settings import CloudSettings


def test_default_limits_are_the_aws_quotas() -> None:
    """Rules: frame over 32 KB / message over 128 KB close 1009; idle timeout 10 minutes;
    maximum duration 2 hours; integration timeout 29 s by default."""
    limits = GatewayLimits()
    assert limits.frame_bytes == 32 * 1024
    assert limits.message_bytes == 128 * 1024
    assert limits.idle_timeout_s == 10 * 60
    assert limits.max_duration_s == 2 * 60 * 60
    assert limits.integration_timeout_s == 29


def test_a_cloud_s_settings_default_to_those_limits() -> None:
    """A cloud started without ``limits`` (the learner's ``workshop cloud start``) gets the
    AWS quotas, and they survive the settings' JSON round trip to the cloud process."""
    settings = CloudSettings()
    assert settings.limits == GatewayLimits()
    assert CloudSettings.from_json(settings.to_json()).limits == GatewayLimits(
        frame_bytes=32768, message_bytes=131072, idle_timeout_s=600.0,
        max_duration_s=7200.0, integration_timeout_s=29.0)
