from rest_framework.throttling import SimpleRateThrottle


class SubscribeThrottle(SimpleRateThrottle):
    """Subscribe requests per client address, for the API and the web form alike."""

    scope = "subscribe"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
