"""ContractParser: contracts in (PDF, scans, DOCX, TXT), structured facts with evidence out.

This package holds the rule-based stage (reading, rules, normalisation, typed results); see
``app.ContractParser``.
"""
