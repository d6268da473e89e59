"""The database and what keeps data: the connection, the models, schema steps, hand-written SQL,
backups, retention, caches and the keyring of secrets at rest."""
