"""AWS partitions: ARNs start ``arn:<partition>:`` and endpoints end in the partition's domain.

A region belongs to one partition (botocore's endpoint data says which): ``aws`` (most
regions), ``aws-cn`` (Beijing, Ningxia; domain ``amazonaws.com.cn``) and ``aws-us-gov``
(GovCloud). The workshop supports these three, where API Gateway WebSocket APIs exist. Other
partitions (``aws-iso*``, ``aws-eusc``) are refused with a clear message rather than guessed at:
their domains and service availability differ, and nothing here has been checked there.
"""

from __future__ import annotations

import boto3
from botocore.exceptions import UnknownRegionError

# The DNS suffix of each supported partition (botocore's partitions.json, "dnsSuffix").
DNS_SUFFIX = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
}


class UnsupportedRegion(ValueError):
    """A region the workshop cannot run in; the message names the supported ones."""


def partition_of(region: str) -> str:
    """The partition of ``region`` (``aws``, ``aws-cn`` or ``aws-us-gov``)."""
    try:
        partition = boto3.Session().get_partition_for_region(region)
    except UnknownRegionError:
        raise UnsupportedRegion(
            f"{region!r} is not an AWS region: set WORKSHOP_REGION (e.g. eu-west-1)"
        ) from None
    if partition not in DNS_SUFFIX:
        raise UnsupportedRegion(
            f"region {region} is in the {partition} partition, which the workshop does not "
            f"support: use a region of {', '.join(DNS_SUFFIX)}"
        )
    return partition


def dns_suffix(partition: str) -> str:
    """``amazonaws.com`` or, in China, ``amazonaws.com.cn``."""
    return DNS_SUFFIX[partition]
