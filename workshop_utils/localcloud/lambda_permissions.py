"""``lambda.add_permission`` as strict as AWS: a statement id may be used once per policy.

moto appends a second statement with the same ``StatementId``; AWS answers 409
``ResourceConflictException``. The difference matters to learners: the idempotent
``try: add_permission … except ResourceConflictException`` they are taught must behave locally
as it does on AWS, or re-running a cell silently piles up statements.
"""

from __future__ import annotations

import json
import re
from typing import Any

from werkzeug.wrappers import Request, Response

from .awsapp import Forward, aws_error

ADD_PERMISSION = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/policy/?$")


class AddPermissionExtension:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def handle(self, request: Request, forward: Forward) -> Response | None:
        match = ADD_PERMISSION.match(request.path)
        if request.method != "POST" or match is None:
            return None
        try:
            statement_id = json.loads(request.get_data() or b"{}").get("StatementId")
            fn = self.cloud.moto_backend("lambda").get_function(
                match["function"], request.args.get("Qualifier"))
        except Exception:  # malformed body or unknown function: moto answers as AWS does
            return None
        statements = getattr(getattr(fn, "policy", None), "statements", None) or []
        if statement_id and any(st.get("Sid") == statement_id for st in statements):
            return aws_error(
                409, "ResourceConflictException",
                f"The statement id ({statement_id}) provided already exists. Please provide a "
                "new statement id, or remove the existing statement.",
            )
        return None
