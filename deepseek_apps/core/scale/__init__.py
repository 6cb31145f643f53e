"""Scale out on Ray: batch scoring on Ray Data, training on Ray Train (the optional ``ray`` extra).

Nothing here imports ``ray`` at module level: ``import deepseek_apps`` and every app stay
free of it, and ``--engine ray`` without the extra fails with ``RAY_NOT_INSTALLED`` (2006)
and the pip command. The modules:

- ``session``: importing ray with that error, connecting to a cluster (``--address``,
  ``RAY_ADDRESS``) or starting a local one, and the runtime environment that ships the package.
- ``parts``: the output folder of JSON-lines parts, each committed atomically (no ray needed).
- ``ray_batch``: any app's batch job as ``map_batches`` over an actor pool, through a small
  per-app adapter (``apps/<app>/ray_adapter.py``).
- ``ray_train``: the core ``Trainer`` inside Ray Train's ``TorchTrainer``.
- ``options``: the ``--engine / --address / --workers`` flags every CLI shares.
"""
