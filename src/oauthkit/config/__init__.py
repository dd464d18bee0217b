"""The configuration that the command, ``Session.from_config`` and ``WebFlow.from_config``
share: the TOML file and its reader (:mod:`.file`, standard library only — the command's
fast path reads it), each provider merged with its preset (:mod:`.provider`), and the typed
factories of clients and stores (:mod:`.factories`).

Nothing is imported here, so that reading the file stays as cheap as the command's fast path
needs it to be.
"""
