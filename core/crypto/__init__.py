"""Field encryption and key management, and the handling of phone numbers it indexes.

* :mod:`core.crypto.providers`: master keys (local file or env var; the protocol admits a KMS).
* :mod:`core.crypto.keyring`: per-tenant data and blind-index keys, wrapped by a master key.
* :mod:`core.crypto.codec`: AES-256-GCM values bound to tenant/table/column/row; blind indexes.
* :mod:`core.crypto.fields`: ``encrypted_column`` and the ORM events that make it transparent.
* :mod:`core.crypto.service`: provisioning, master and tenant rotation, crypto-shredding.
* :mod:`core.crypto.phones`: phone numbers in E.164, and masked for who may not see them.

See docs/encryption.md.
"""
