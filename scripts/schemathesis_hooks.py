import json
import schemathesis

@schemathesis.serializer("application/x-ndjson")
class NdjsonSerializer:
    def _data(self, value):
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        return json.dumps(value).encode("utf-8")

    def as_requests(self, context, value):
        return {"data": self._data(value)}

    def as_werkzeug(self, context, value):
        return {"data": self._data(value)}
