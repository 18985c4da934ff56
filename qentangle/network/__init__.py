"""Distributed endpoints: the source and the two ground stations as processes over TCP.

* :mod:`qentangle.network.source`: the pair source and link, serving each station only its own
  detection records, block by block (``python -m qentangle.network.node --kind source``).
* :mod:`qentangle.network.station`: Alice and Bob; each runs *the in-process protocol's own
  party programs* (:func:`qentangle.protocols.keying.block_party`, via
  :func:`qentangle.channel_transport.run_party`) over an authenticated TCP connection and
  stores each block with a two-phase commit in its :mod:`~qentangle.network.keystore`.
* :mod:`qentangle.network.transport`: frames, Wegman-Carter tags with never-reused pads from
  the bootstrap key, sequence numbers; :mod:`qentangle.network.wire`: the payload codec.
* :mod:`qentangle.network.config`: TOML configurations and the presets ``lab``,
  ``micius-2020``, ``micius-2020-bright``.
* :mod:`qentangle.network.nodes`: start, status, stop; ``DIR/network.json``.

Adding a node kind (e.g. a KME per station): register a command builder with
:func:`qentangle.network.nodes.register_node_kind` and list the kind in the configuration's
``[network] nodes``; :func:`qentangle.network.nodes.spawn_node` starts it and waits for its
``READY <host> <port>`` line. Each station's key store is ``DIR/<station>/keys.sqlite``.

Error correction: Cascade (default, interactive: a few hundred authenticated messages per
block) or LDPC (one-way), both as party programs of :mod:`qentangle.distill.chain`.
"""
