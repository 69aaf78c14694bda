"""Settings modules: ``base`` (shared), ``dev`` (local run), ``test`` (suite), ``production``."""
