"""moto's server, with DynamoDB's write isolation.

moto checks a write's conditions and then applies it as separate steps, and its server answers
requests on several threads, so two concurrent conditional writes to one item can both pass
their check. DynamoDB never lets that happen: writes to an item are serialised, and a
transaction's conditions hold when it commits. Leadrelay's correctness under races (one
assignment per lead, exact weights and caps when many routers share a team's rotation) rests
on exactly that, so the local stack and the tests run moto with every DynamoDB write behind
one lock.

And `/moto-api/data.json?service=ses` dumps one service's models only: the full dump walks
every model instance moto ever tracked (every DynamoDB item version included), which grows
with each test, while the tests only read the emails SES took.
"""

import json
import sys
import threading
from urllib.parse import parse_qs, urlparse

from moto.dynamodb.models import DynamoDBBackend
from moto.moto_api._internal.responses import MotoAPIResponse

_WRITES = threading.RLock()


def _serialised(write):
    def locked(self, *args, **kwargs):
        with _WRITES:
            return write(self, *args, **kwargs)

    locked.__name__ = write.__name__
    return locked


for _name in (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
):
    setattr(DynamoDBBackend, _name, _serialised(getattr(DynamoDBBackend, _name)))

_full_dump = MotoAPIResponse.model_data


def _model_data(self, request, full_url, headers):
    wanted = parse_qs(urlparse(full_url).query).get("service")
    if not wanted:
        return _full_dump(self, request, full_url, headers)
    from moto.core.model_instances import model_data

    results = {}
    for service in sorted(set(wanted) & set(model_data)):
        results[service] = {}
        for name, model in sorted(model_data[service].items()):
            results[service][name] = []
            for instance in list(model.instances_tracked):
                fields = {}
                for attr in dir(instance):
                    if attr.startswith("_"):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except (TypeError, AttributeError, ValueError):
                        continue
                    fields[attr] = value
                results[service][name].append(fields)
    return 200, {"Content-Type": "application/json"}, json.dumps(results)


MotoAPIResponse.model_data = _model_data

# Imported after the patches: the server binds its routes to the methods when it loads.
from moto.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
