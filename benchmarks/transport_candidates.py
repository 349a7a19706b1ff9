"""Delivery transports measured against the project's one (`make bench`, fan-out rows).

``Urllib3Transport``: the candidate of issue 12, a urllib3 connection pool (urllib3 ships with
botocore in every Lambda runtime) carrying requests signed by the project's own SigV4 signer
(``SignedHttpTransport.signed_headers``). Same ``post`` contract as the project's transports, so it
runs through the same ``delivery.deliver`` (threads, retries, 410 cleanup).
"""

from __future__ import annotations

import urllib3
from realtime_comments.delivery.transport import SendError, SignedHttpTransport, _error_code


class Urllib3Transport:
    def __init__(self, signer: SignedHttpTransport, pool_size: int) -> None:
        self.signer = signer
        self.pool = urllib3.connectionpool.connection_from_url(
            f"{signer.scheme}://{signer.netloc}", maxsize=pool_size, block=True, retries=False
        )

    def post(self, connection_id: str, data: bytes) -> None:
        path, headers = self.signer.signed_headers(connection_id, data)
        response = self.pool.urlopen(
            "POST", path, body=data, headers=headers, retries=False, assert_same_host=False
        )
        if response.status >= 300:
            raise SendError(
                response.status,
                _error_code(response.status, response.headers.get("x-amzn-ErrorType", "")),
                response.data[:200].decode("utf-8", "replace"),
            )
