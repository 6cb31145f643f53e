"""FraudDetector: a heterogeneous GNN, LightGBM, their hybrid and blend over transaction graphs.

One idea per module: ``data`` (reading and validating transactions), ``features`` (causal
temporal features), ``synthetic`` (the seeded generator), ``graph`` (``HeteroData``),
``sampler`` (the temporal neighbour sampler), ``model`` (the GNN), ``trees`` (LightGBM),
``blend`` (the architectures and the log-odds blend), ``calibrate`` (fraud metrics over
``core.metrics`` and the alert threshold), ``pipeline`` (table -> model inputs), ``scoring``
(a fitted detector's scores and ``FraudScore`` rows), ``app`` (the facade), ``online`` (one
transaction at a time), ``explain`` and ``picture``, ``persist`` (save, export, load),
``yelpchi`` (loaders), ``cli`` and ``demo``.
"""
