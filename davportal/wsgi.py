"""The portal as a WSGI app for any WSGI server, e.g. several gunicorn workers:

    gunicorn --workers 4 --threads 8 --bind 127.0.0.1:8080 'davportal.wsgi:app'

The config comes from DAVPORTAL_CONFIG (or the embedded defaults), as for the command line.
"""

from davportal.app import make_app
from davportal.core.settings import load_config

_config, _source = load_config(None)
app = make_app(_config, _source)
