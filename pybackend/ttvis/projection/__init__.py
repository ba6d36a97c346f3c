"""Visualization methods and their shared parts.

``knn`` (kNN graph), ``complex`` (UMAP fuzzy simplicial complex), ``boundary``
(boundary samples), ``networks`` (encoder/decoder), ``losses``, ``trainer``,
``head`` (the subject model's prediction head), one module per method (``dvi``)
and ``registry`` (method name -> implementation).
"""
