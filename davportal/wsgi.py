"""The portal as a WSGI app for any WSGI server, e.g. several gunicorn workers:

    gunicorn --workers 4 --threads 8 --bind 127.0.0.1:8080 'davportal.wsgi:app'

The config comes from DAVPORTAL_CONFIG (or the embedded defaults), as for the command line.
Each process that imports this module competes for the node's housekeeping (the email sender
and the purge of the trash, old versions and unfinished uploads): one runs it, and another takes
over when that one ends (see davportal.services.housekeeping).
"""

from davportal.app import make_app, portal_of
from davportal.core.settings import load_config
from davportal.services.housekeeping import Housekeeping

_config, _source = load_config(None)
app = make_app(_config, _source)
housekeeping = Housekeeping(portal_of(app))
housekeeping.start()
