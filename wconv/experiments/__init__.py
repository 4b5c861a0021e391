"""The experiments of the book, built on the library (:mod:`wconv`): data, models, one
training engine, one results store, budgets, statistics, the tasks and the density search.

Modules import the library and each other, never :mod:`wconv.views`:

* data: :mod:`~wconv.experiments.datasets` (downloads with checksums),
  :mod:`~wconv.experiments.cifar` (CIFAR-100 splits and loaders),
  :mod:`~wconv.experiments.images` (image sets, protocols, noise, patches);
* models: :mod:`~wconv.experiments.classifiers`, :mod:`~wconv.experiments.denoisers`;
* :mod:`~wconv.experiments.train` (the engine), :mod:`~wconv.experiments.results` (the store),
  :mod:`~wconv.experiments.budgets`, :mod:`~wconv.experiments.stats`;
* tasks: :mod:`~wconv.experiments.classify`; :mod:`~wconv.experiments.denoise` with its
  :mod:`~wconv.experiments.denoise_budgets`, :mod:`~wconv.experiments.denoise_measures` (what
  one run measured) and :mod:`~wconv.experiments.denoise_study` (the analysis of the grid);
* :mod:`~wconv.experiments.search`; :mod:`~wconv.experiments.export` (ONNX);
  :mod:`~wconv.experiments.bench` (layer timings).
"""
