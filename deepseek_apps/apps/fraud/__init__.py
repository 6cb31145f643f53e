"""FraudDetector: a heterogeneous GNN, LightGBM, their hybrid and blend over transaction graphs.

One idea per module: ``data`` (reading and validating transactions), ``features`` (causal
temporal features), ``synthetic`` (the seeded generator), ``graph`` (``HeteroData``),
``sampler`` (the temporal neighbour sampler), ``model`` (the GNN), ``trees`` (LightGBM),
``calibrate`` (metrics and the alert threshold), ``pipeline`` (table -> model inputs),
``app`` (the facade), ``online`` (one transaction at a time), ``explain``, ``persist``,
``yelpchi`` (loaders), ``cli`` and ``demo``.
"""
