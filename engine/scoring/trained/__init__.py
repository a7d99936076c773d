"""The `trained` simulator: frozen MiniLM + a small head trained on synthetic neurons.

data: ``wordnet`` (WordNet 3.0 reader), ``sentences`` (corpus, delimiters, numbers),
``families`` / ``lexicon`` (synthetic neurons and their splits), ``dataset`` (records);
model: ``features`` (frozen encoder), ``head``; ``train``, ``evaluate``, ``simulator``.
"""
