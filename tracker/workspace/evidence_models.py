"""Evidence pieces (files or links) that cover tracked obligations. Imported by models.py.

(Filled in by the evidence work of issue 11; see docs/evidence.md once written.)
"""
