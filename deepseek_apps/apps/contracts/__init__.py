"""ContractParser: contracts in (PDF, scans, DOCX, TXT), structured facts with evidence out.

- ``app``: the facade ``ContractParser`` (fit / predict / evaluate / save / load / export);
- ``reading/``: files into a typed ``Document`` (``pages``, ``documents``, ``pdf``, ``office``, ``ocr``);
- ``rules``, ``parties``, ``normalize``, ``relations``, ``glossary``: the rule-based stage;
- ``clauses/``: the learned clause tagger (data, model, train, export, runtime, decode, eval);
- ``model_io``: model folders and edge bundles; ``fitting``: training and scoring on CUAD;
- ``results``: the typed results (``ContractAnalysis``, ``ContractMetrics``);
- ``synthetic/``: generated contracts with known facts and their renderings.
"""
