"""The one failure the bench reports: something a server did, or did not do, that voids the run."""


class BenchError(Exception):
    pass
