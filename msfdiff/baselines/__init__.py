"""The paper's baselines and ablations as generators (Tables 4-5): each row of
``msfdiff compare`` is one :class:`~msfdiff.generator.Generator` subclass here, trained on the
same data and budget and evaluated by the same suite (docs/baselines.md).

``training`` holds what every torch baseline shares (:class:`TorchGenerator`: step loop,
checkpoints, resume, folder); each model lives in its own module.
"""
