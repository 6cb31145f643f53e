"""The learned clause tagger, one idea per module.

- ``data``: CUAD labels as spans, word labels and windows; ``tokens``: words -> token ids
  (``tokenizers`` only); ``model``: MiniLM + LoRA + heads; ``train``: fine-tuning;
- ``folder``: the files of a model folder; ``export``: the merged model as ONNX (FP32, INT8);
- ``inference``: ``ClauseRuntime``, running without PyTorch; ``runtime``: ``ClauseModel``,
  a trained folder on PyTorch or ONNX Runtime;
- ``decode``: clause spans from word probabilities; ``lexical``: the TF-IDF scorer;
  ``eval``: window and CUAD span metrics.
"""
