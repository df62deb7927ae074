"""``agentapp sweep``: many normal runs (games x hyperparameter grid x seeds) scheduled on Ray.

Each trial is an ordinary run folder trained by ``engine.loop.train``; this package only decides
which runs to make (:mod:`.grid`), records the sweep in ``sweep.json`` so it can resume
(:mod:`.state`), runs the trials as Ray tasks (:mod:`.runner`, :mod:`.trial`, :mod:`.board`) and
ranks what they reached (:mod:`.report`). With ``--asha`` or ``--search`` the trials run as a Ray
Tune experiment instead (:mod:`.tune_options`, :mod:`.tune`, :mod:`.tune_trainable`), each still
a normal run. Ray is an optional extra: no module here imports it at import time; it is reached
through :mod:`agentapp.engine.ray_cluster` when a sweep starts.
"""
