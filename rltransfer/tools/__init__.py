"""Application tools built on the libraries below them: they rebuild whole studies or run the
vision library end to end, so they sit above ``study``/``run`` (nothing in the package imports
them but ``rltransfer.cli``).

* ``commands``: the ``rltransfer encoders | pretrain | probe`` subcommands;
* ``pretrain``: self-supervised pretraining of an encoder on environment frames;
* ``probe``: supervised linear probes of an encoder's layers;
* ``agent_frames``: frames from a finished study's source agent (for ``pretrain --agent``).
"""
