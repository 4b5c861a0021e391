"""What the book shows: plots, tables, widgets and panels, the papers' published numbers
and the findings written from stored results. Views read :mod:`wconv.experiments` and the
library; nothing below imports them. Only views import matplotlib, ipywidgets or IPython.
"""
