"""Issue 19, bounded disk: a trial keeps its latest checkpoint (which holds its best epoch's weights) and no more,
and once it has ended by itself that checkpoint keeps only what the test evaluation and a restart read."""

import io

import torch

from tuner import train
from tuner.train.evaluation import load_model

CONFIG = {"data": "synthetic", "model": "mlp", "hidden": (64,), "batch_size": 500, "epochs": 3, "optimizer": "adam"}


def _size(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def test_the_state_of_an_ended_run_holds_the_best_weights_only_and_still_restarts_and_evaluates():
    states = []
    result = train.fit(CONFIG, on_epoch=lambda record, state: states.append(state()))
    running, ended = states[-2], states[-1]
    assert "optimizer" in running and "model" in running  # mid-run: everything a resume needs
    assert "optimizer" not in ended and "model" not in ended
    assert _size(ended) < 0.4 * _size(running)  # adam: weights + 2 moments + best weights -> best weights
    model, _, _ = load_model(ended, (1, 28, 28), "cpu")
    for name, tensor in result.model.state_dict().items():  # the best epoch's weights, as the test evaluation reads
        assert torch.equal(tensor, model.state_dict()[name]), name
    again = train.fit(CONFIG, resume=ended, on_epoch=lambda record, state: states.append("trained again"))
    assert states[-1] != "trained again" and again.history == result.history and again.status == result.status


def test_a_run_cut_short_keeps_its_best_weights_only_and_is_never_trained_on_from_them():
    """A trial a trial scheduler stopped saved a running state; once it is cut to its ended state (tuner.sweep.prune)
    a restart from it must not train on from the best weights with a fresh optimizer."""
    from tuner.train.loop import ended_state

    states = []
    train.fit(CONFIG, on_epoch=lambda record, state: states.append(state()))
    cut = ended_state(states[0])  # stopped after epoch 1 of 3
    assert set(states[0]) - set(cut) == {"model", "optimizer", "schedule", "scaler"}
    again = train.fit(CONFIG, resume=cut, on_epoch=lambda record, state: states.append("trained on"))
    assert states[-1] != "trained on" and len(again.history) == 1
