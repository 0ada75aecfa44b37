"""The numpy core: a multi-layer perceptron with inverted dropout, trained by gradient descent.

- :mod:`~dropout_study.nn.layers` — dense, ReLU, tanh and dropout layers, each backward
  beside its forward;
- :mod:`~dropout_study.nn.heads` — the output heads (sigmoid, softmax, identity): targets,
  loss and its gradient from logits;
- :mod:`~dropout_study.nn.mlp` — the network; :mod:`~dropout_study.nn.losses` — stable losses
  and entropies; :mod:`~dropout_study.nn.penalties` — L1 and L2;
  :mod:`~dropout_study.nn.optim` — SGD (with momentum) and Adam;
- :mod:`~dropout_study.nn.training` — ``train``, one network (checks its arguments, then runs
  a stack of one) with its stopping rule (:mod:`~dropout_study.nn.stopping`);
  :mod:`~dropout_study.nn.mask_control` — dropout with less mask noise (the controls);
- :mod:`~dropout_study.nn.stack` — ``train_stack``, K networks of one architecture at once,
  each bit for bit as alone: jobs (:mod:`~dropout_study.nn.stack_jobs`), the loop
  (:mod:`~dropout_study.nn.stack_run`), layers (:mod:`~dropout_study.nn.stack_layers`), heads
  (:mod:`~dropout_study.nn.stack_heads`), optimiser rows (:mod:`~dropout_study.nn.stack_optim`);
- :mod:`~dropout_study.nn.deferred` — cells whose ``train`` calls train together (the sweeps'
  stacking, without changing the cells);
- :mod:`~dropout_study.nn.logistic` — logistic regression with L1/L2, solved precisely.

Nothing here imports from the rest of the package except the base modules
(``validation``, ``seeds``).
"""
