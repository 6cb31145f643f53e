"""Good-only inspection: PatchCore-style anomaly detection on pretrained EfficientNet-Lite patches (Lite1 by default).

``QualityInspector(task="anomaly")`` fits on good images only. Each image becomes a grid
of patch embeddings (stride-8 and stride-16 features, each averaged over its 3x3
neighbourhood, concatenated at stride 8); a greedy coreset of the good patches is the
memory bank; a patch's anomaly score is its distance to the nearest bank entry; the map,
upsampled and lightly smoothed, gives the heat map, and the mean of its top 1% the image score. The
OK/NG threshold comes from good images held out of the bank, at a target false-reject rate.

Modules, one idea each: ``config`` (settings and the working size), ``features`` (the
patch embedder, exported to ONNX), ``memory`` (coreset and nearest-neighbour search),
``maps`` (heat maps and regions, numpy only), ``data`` (good folders, labelled folders and
masks), ``model`` (fit and score), ``storage`` (folders and INT8 bundles), ``facade``
(what ``QualityInspector`` calls).
"""
