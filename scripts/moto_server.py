"""moto's server, with DynamoDB's write isolation.

moto checks a write's conditions and then applies it as separate steps, and its server answers
requests on several threads, so two concurrent conditional writes to one item can both pass
their check. DynamoDB never lets that happen: writes to an item are serialised, and a
transaction's conditions hold when it commits. Leadrelay's correctness under races (one
assignment per lead, exact weights and caps when many routers share a team's rotation) rests
on exactly that, so the local stack and the tests run moto with every DynamoDB write behind
one lock, and every read behind it too, so no reader sees a transaction half applied.

A transaction backs up only the items it writes, not the whole table: moto 5 deep-copies the
whole table before every TransactWriteItems (and keeps every copy alive in its instance
registry), so a transaction's cost grew with the table, and 50 routers racing over one team's
rotation spent their time copying tables. DynamoDB's cost per transaction does not depend on
the table. The outcome is the same all-or-nothing: a cancelled transaction puts back exactly
the items it wrote.

An SQS send or receive costs the same however deep the queue is: moto 5 computes every queue
attribute, message counts included (a walk over every message), on each SendMessage (to read
one FIFO flag) and for each message a ReceiveMessage looks at (to read the retention period),
so a queue of 1,000 messages cost time in proportion to the square of them.

A query on a table's own key reads that one partition. moto 5 lists and sorts every item of
the table for each Query, even one naming its partition key, so a lead's timeline or email log
cost time in proportion to the whole table (150 ms a query with 500 leads in it). DynamoDB
reads the partition; so does the wrapper. A query on an index still looks at every item (moto
keeps no index), but no longer sorts the whole table first: moto sorts the items it keeps.

Request logging is off: the server's output goes nowhere, and werkzeug formatting a log line
per request under its lock took an eighth of the server's time under load.

Which service a request is for is looked up once per kind of request, not per request: moto 5
lists its package directory (200 `stat` calls) under the dispatcher's lock on every request, a
seventh of the server's time at ten leads a second. The list is read once at start.

The app runs under waitress instead of werkzeug's development server, which closes every
connection after one answer (it says so: it cannot drain a request body for keep-alive) and
starts a thread per connection, so each request paid a new connection and a new thread. AWS's
endpoints keep connections alive; waitress does too, with a fixed pool of threads. At ten leads
a second this took a fifth off the time to the acknowledgement (scripts/bench-ack-latency).

A read's answer is written as JSON directly. moto 5 walks botocore's shape of the answer for
every attribute value (an item of 2 KB took 6.7 ms of the server's CPU for a GetItem, three
times the cost of finding the item), while the item it holds is already in DynamoDB's wire
form: json.dumps writes the same bytes. The operations that take this path are the ones whose
answers were checked equal to moto's own, answer by answer, over a whole end-to-end run
(GetItem, BatchGetItem, Query, Scan, PutItem, UpdateItem: 7,600 answers); DeleteItem is not
among them (its answer carries a member outside the operation's shape, which the walk drops).
The 500-lead end-to-end test took 37 s instead of 57.

An item's size is checked once when moto builds it, not once per attribute: moto 5 adds the
attributes one at a time and sums the sizes of all those already there at each, so building an
item of 30 attributes (every write builds one) measured the item 30 times. The limit and the
error are moto's own.

A condition expression is parsed once for the same expression, names and values: moto parses
it again for every write, twice for each item of a transaction (checking the request, then
applying it), a third of a transaction's time in py-spy; capture's transaction took 2.2 ms of
the server's CPU, 1.6 after (medians over 301 submissions). The tree is evaluated again as it
is (moto's evaluation only reads it), and at most 4,096 are kept. Update expressions are still
parsed each time: moto rewrites their tree with the values as it applies one, and copying a
kept tree measured no cheaper than parsing it again.

With `LEADRELAY_MOTO_TIMINGS=<file>` in its environment the server appends a line per request
to the file: the operation, the milliseconds the app took and its thread's CPU milliseconds, so
a benchmark can tell the emulator's time from the functions' (docs/development.md).

And `/moto-api/data.json?service=ses` dumps one service's models only: the full dump walks
every model instance moto ever tracked (every DynamoDB item version included), which grows
with each test, while the tests only read the emails SES took.
"""

import base64
import copy
import datetime
import inspect
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

import waitress
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_api._internal.responses import MotoAPIResponse

_WRITES = threading.RLock()


def _serialised(write):
    def locked(self, *args, **kwargs):
        with _WRITES:
            return write(self, *args, **kwargs)

    locked.__name__ = write.__name__
    return locked


# Reads take the same lock: DynamoDB never shows a reader a transaction half applied, or one
# that is being rolled back, and moto applies a transaction item by item.
for _name in (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "transact_get_items",
):
    setattr(DynamoDBBackend, _name, _serialised(getattr(DynamoDBBackend, _name)))


class _NoTableBackup:
    """`copy` for moto.dynamodb.models: the whole-table backup in transact_write_items becomes
    the table itself; the items a transaction writes are backed up in transact_write_items."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


dynamodb_models.copy = _NoTableBackup()
_transact = DynamoDBBackend.transact_write_items  # already behind the write lock


def _item_key(table, op_type, op):
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key
    return op["Key"]


def _transact_write_items(self, transact_items):
    with _WRITES:
        before = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                key = _item_key(table, op_type, op)
                current = self.get_item(op["TableName"], key)
            except Exception:
                continue  # moto itself refuses the transaction for it
            attrs = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            before.append((op["TableName"], key, attrs))
        try:
            return _transact(self, transact_items)
        except BaseException:
            for name, key, attrs in reversed(before):
                if attrs is None:
                    if self.get_item(name, key) is not None:
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attrs)
            raise


_transact_write_items.__name__ = "transact_write_items"
DynamoDBBackend.transact_write_items = _transact_write_items

from moto.sqs import models as sqs_models  # noqa: E402

_sending = threading.local()
_all_attributes = sqs_models.Queue.attributes.fget


_COUNTS = {
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
}


def _attributes(self):
    # Within a send or a receive, no message count is read: the others only, without walking
    # every message.
    if not getattr(_sending, "on", False):
        return _all_attributes(self)
    names = [a for a in self.BASE_ATTRIBUTES if a not in _COUNTS]
    if self.fifo_queue:
        names += self.FIFO_ATTRIBUTES
    if self.kms_master_key_id:
        names += self.KMS_ATTRIBUTES
    result = {a: getattr(self, sqs_models.camelcase_to_underscores(a)) for a in names}
    if self.policy:
        result["Policy"] = self.policy
    if self.redrive_policy:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy)
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}


sqs_models.Queue.attributes = property(_attributes)


def _while_sending(send):
    def sending(self, *args, **kwargs):
        _sending.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.on = False

    sending.__name__ = send.__name__
    return sending


for _name in ("send_message", "send_message_batch", "receive_message"):
    setattr(sqs_models.SQSBackend, _name, _while_sending(getattr(sqs_models.SQSBackend, _name)))

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

_table_query = Table.query
_table_all_items = Table.all_items
_query_signature = inspect.signature(_table_query)
_partition = threading.local()


def _all_items(self):
    only = getattr(_partition, "only", None)
    if only is not None and only[0] is self:
        # `items` maps a partition key to {sort key: item}; .get leaves a defaultdict as it is.
        partition = self.items.get(only[1]) or {}
        return sorted(partition.values(), key=lambda item: item.range_key)
    if getattr(_partition, "index_of", None) is self and self.range_key_attr is not None:
        # An index query sorts the items it keeps by the index's key and the table's (a total
        # order), so sorting the whole table first only costs time.
        return [item for partition in self.items.values() for item in partition.values()]
    return _table_all_items(self)


def _query(self, *args, **kwargs):
    bound = _query_signature.bind(self, *args, **kwargs)
    hash_key = bound.arguments.get("hash_key")
    if (
        bound.arguments.get("index_name") is None
        and hash_key is not None
        and self.range_key_attr is not None
    ):
        _partition.only = (self, hash_key)
        try:
            return _table_query(self, *args, **kwargs)
        finally:
            _partition.only = None
    if bound.arguments.get("index_name") is not None:
        _partition.index_of = self
        try:
            return _table_query(self, *args, **kwargs)
        finally:
            _partition.index_of = None
    return _table_query(self, *args, **kwargs)


_all_items.__name__ = "all_items"
_query.__name__ = "query"
Table.all_items = _all_items
Table.query = _query

from moto import backends as _backends  # noqa: E402

_MODULES = frozenset(_backends.list_of_moto_modules())
_backends.list_of_moto_modules = lambda: _MODULES


from moto.dynamodb.responses import DynamoResult  # noqa: E402

_WIRE_FORM = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem"})
_serialise_by_shape = DynamoResult.execute_result


def _json_value(value):
    # What the shape walk does with the two non-JSON types a DynamoDB answer holds.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} in a DynamoDB answer")


def _execute_result(self, context):
    if context.operation_model.name not in _WIRE_FORM:
        return _serialise_by_shape(self, context)
    body = json.dumps(self.result, default=_json_value)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


DynamoResult.execute_result = _execute_result


from moto.dynamodb.exceptions import ItemSizeTooLarge  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict  # noqa: E402
from moto.dynamodb.models.utilities import bytesize  # noqa: E402

_ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict: DynamoDB's 400 KB, as moto measured it


def _item_init(self, hash_key, range_key, attrs):
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > _ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, values)  # the check per attribute is the one above, done once


Item.__init__ = _item_init

from moto.dynamodb.comparisons import ConditionExpressionParser  # noqa: E402

_parse_condition = ConditionExpressionParser.parse
_PARSED = {}  # (expression, names, values) -> (syntax tree, names found, values found)


def _parse_condition_once(self):
    key = (
        self.condition_expression,
        repr(self.expression_attribute_names),
        repr(self.expression_attribute_values),
    )
    parsed = _PARSED.get(key)
    if parsed is None:
        op = _parse_condition(self)  # an expression it refuses raises, and is not kept
        if len(_PARSED) >= 4096:
            _PARSED.clear()
        names, values = list(self.expr_attr_names_found), list(self.expr_attr_values_found)
        _PARSED[key] = (op, names, values)
        return op
    op, names, values = parsed
    self.expr_attr_names_found.extend(names)
    self.expr_attr_values_found.extend(values)
    return op


ConditionExpressionParser.parse = _parse_condition_once

from werkzeug.serving import WSGIRequestHandler  # noqa: E402

WSGIRequestHandler.log_request = lambda self, *args, **kwargs: None

# Imported after the patches: the server binds its routes to the methods when it loads.
import moto.server  # noqa: E402
from moto.server import main  # noqa: E402


def _timed(app, path):
    """The app, writing one line per request to `path`: the operation, the milliseconds the
    app took and the CPU milliseconds of its thread (a long poll's wait is not CPU)."""
    log = open(path, "a", buffering=1)
    lines = threading.Lock()  # one line at a time from the server's threads

    def timed(environ, start_response):
        started, cpu = time.perf_counter(), time.thread_time()
        body = b"".join(app(environ, start_response))
        # JSON protocols name the operation in a header; the query protocol's (SES's) is in the
        # body the app has read, so those show as their method and path.
        op = environ.get("HTTP_X_AMZ_TARGET")
        op = op or f'{environ["REQUEST_METHOD"]} {environ["PATH_INFO"]}'
        took = (time.perf_counter() - started) * 1000
        with lines:
            log.write(f"{op}\t{took:.3f}\t{(time.thread_time() - cpu) * 1000:.3f}\n")
        return [body]

    return timed


def _serve(host, port, app, **_werkzeug_options):
    if os.environ.get("LEADRELAY_MOTO_TIMINGS"):
        app = _timed(app, os.environ["LEADRELAY_MOTO_TIMINGS"])
    # Enough threads for the long polls (one per queue poller, each held up to its wait) and
    # the requests beside them; many tests run at once against one server.
    waitress.serve(app, host=host, port=port, threads=32, connection_limit=1000, _quiet=True)


moto.server.run_simple = _serve

if __name__ == "__main__":
    sys.exit(main())
