"""The local cloud's AWS API port: moto's server behind the extensions moto lacks.

- :mod:`.dispatch`: the WSGI app; each request meets the extensions in order, the rest goes to
  moto; an extension's error (moto's exception classes) becomes a response here, in one place;
- :mod:`.connection`: the HTTP/1.1 request handler that keeps connections alive;
- :mod:`.status`: ``GET /_localcloud/status``, what ``workshop cloud status`` prints;
- :mod:`.exceptions`: the error of the port itself (a bug in an extension).
"""
