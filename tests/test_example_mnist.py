"""Tests for examples/mnist_cnn.py on the real MNIST files (the `mnist_dir` fixture).

The CI-sized run trains one epoch on the first 10,000 training images and is scored on
the full 10,000-image test set (about 15 s on an idle 2-core machine). Resume, checkpoint and command-line tests use a few hundred
images so they take seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
import mnist_cnn
from funcgrad import optim, random, tree
from common import run_example
from gradcam import gradcam
from mnist_cnn import (CheckpointError, Config, EpochRecord, TrainState, load_checkpoint,
                       make_model, save_checkpoint, train)
from mnist_data import Mnist, load_mnist

CI_CONFIG = Config(epochs=1, batch_size=32, lr=2e-3, seed=0, limit=10_000)
CI_MIN_ACCURACY = 0.95
"""Measured 97.3% (seed 0; 97.4% and 97.0% with seeds 1 and 2): 95% leaves room for
floating-point differences between machines and BLAS builds."""

SMALL = Config(epochs=2, batch_size=64, lr=1e-3, seed=3, limit=640)
"""10 minibatches per epoch, 20 in all."""
SMALL_TEST = 300
"""Test images scored per epoch in the small runs."""


def _quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path) -> Mnist:
    """The real MNIST arrays."""
    return load_mnist(mnist_dir, download=False, progress=False)


@pytest.fixture(scope="module")
def ci_run(mnist: Mnist) -> tuple[TrainState, float]:
    """The CI-sized training run and its wall time in seconds."""
    start = time.perf_counter()
    state = train(CI_CONFIG, mnist, progress=False, log=_quiet)
    return state, time.perf_counter() - start


@pytest.fixture(scope="module")
def small_reference(mnist: Mnist) -> TrainState:
    """SMALL trained without interruption (and without checkpoints)."""
    return train(SMALL, mnist, test_limit=SMALL_TEST, progress=False, log=_quiet)


def _assert_bitwise_equal(a: Any, b: Any) -> None:
    leaves_a, def_a = tree.flatten(a)
    leaves_b, def_b = tree.flatten(b)
    assert def_a == def_b
    for path, x, y in zip(def_a.leaf_paths(), leaves_a, leaves_b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, path
        assert x.tobytes() == y.tobytes(), f"{path} differs"


# ---------------------------------------------------------------------------------------
# Training on real data.


def test_ci_sized_run_reaches_stated_accuracy_on_full_test_set(
        ci_run: tuple[TrainState, float], mnist: Mnist) -> None:
    state, seconds = ci_run
    (record,) = state.history
    assert len(mnist.test_labels) == 10_000
    assert record.images == 10_000
    print(f"CI run: test accuracy {100 * record.test_accuracy:.2f}% in {seconds:.1f} s "
          f"(training {record.train_seconds:.1f} s, evaluation {record.eval_seconds:.1f} s)")
    assert record.test_accuracy >= CI_MIN_ACCURACY
    assert record.train_loss < 0.5
    # evaluate() agrees with the accuracy recorded during training
    acc = mnist_cnn.evaluate(make_model(), state.params, mnist.test_images, mnist.test_labels)
    assert acc == record.test_accuracy


def test_params_stay_float32(ci_run: tuple[TrainState, float]) -> None:
    state, _ = ci_run
    for leaf in tree.leaves(state.params) + tree.leaves((state.opt_state.mu, state.opt_state.nu)):
        assert np.asarray(leaf).dtype == np.float32
    assert state.step == 313  # ceil(10000 / 32)


def test_gradcam_batch_equals_one_image_at_a_time(ci_run: tuple[TrainState, float],
                                                  mnist: Mnist) -> None:
    state, _ = ci_run
    model = make_model()
    images = mnist.test_images[:4]
    classes = np.array([7, 2, 3, 0], dtype=np.intp)
    cams = mnist_cnn.class_gradcams(model, state.params, images, classes)
    assert cams.shape == (4, 11, 11) and cams.dtype == np.float32
    assert (cams >= 0).all()
    for i in range(4):
        a = np.asarray(model.features(state.params, mnist_cnn.to_input(images[i:i + 1])))
        g = fg.grad(lambda m: fnp.sum(model.head(state.params, m)[0, int(classes[i])]))(a)
        np.testing.assert_allclose(cams[i], gradcam(a[0], np.asarray(g)[0]), rtol=1e-5,
                                   atol=1e-6)


def test_cam_to_image_centres_cells_on_their_receptive_fields() -> None:
    flat = mnist_cnn.cam_to_image(np.full((11, 11), 2.0, np.float32))
    assert flat.shape == (28, 28)
    np.testing.assert_allclose(flat, 2.0, rtol=1e-6)
    cam = np.zeros((11, 11), np.float32)
    cam[5, 2] = 1.0  # sees input rows 10..17 and columns 4..11: centre (13.5, 7.5)
    image = mnist_cnn.cam_to_image(cam)
    peak_rows, peak_cols = np.nonzero(image == image.max())
    assert sorted(set(peak_rows.tolist())) == [13, 14]
    assert sorted(set(peak_cols.tolist())) == [7, 8]
    np.testing.assert_allclose(image.sum(), 4.0, rtol=1e-6)  # spacing 2: 2 x 2 pixels per cell


def test_activation_maximisation_raises_each_class_logit(ci_run: tuple[TrainState, float]
                                                         ) -> None:
    state, _ = ci_run
    model = make_model()
    images, logits = mnist_cnn.activation_maximisation(model, state.params, steps=30, seed=1)
    assert images.shape == (10, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    start = np.asarray(model.apply(state.params, np.zeros((10, 1, 28, 28), np.float32)))
    own = np.diag(logits)
    assert (own > np.diag(start)).all()
    assert (logits.argmax(axis=1) == np.arange(10)).all()


# ---------------------------------------------------------------------------------------
# The training step, jitted and not.

STEP_BATCH = 32
STEP_COUNT = 20
STEP_OPTIMIZERS = [
    pytest.param(lambda: optim.sgd(0.05), id="sgd"),
    pytest.param(lambda: optim.momentum(optim.step_decay(0.02, every=5, factor=0.5)),
                 id="momentum-step-decay"),
    pytest.param(lambda: optim.momentum(0.01, nesterov=True), id="nesterov"),
    pytest.param(lambda: mnist_cnn.make_optimizer(
        Config(epochs=1, batch_size=STEP_BATCH, lr=2e-3), steps_per_epoch=STEP_COUNT),
        id="adam-cosine"),  # the example's optimizer: Adam on a cosine schedule
]


def _relative_difference(a: Any, b: Any) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-30))


@pytest.mark.parametrize("make_opt", STEP_OPTIMIZERS)
def test_jitted_train_step_agrees_with_the_unjitted_one(mnist: Mnist, make_opt: Any) -> None:
    model = make_model()
    opt = make_opt()
    step = mnist_cnn.make_step(model, opt)
    jitted = fg.jit(step)
    params = model.init(random.key(5))
    start = (params, opt.init(params))
    (p_jit, s_jit), (p_eager, s_eager) = start, start
    for i in range(STEP_COUNT):
        idx = slice(i * STEP_BATCH, (i + 1) * STEP_BATCH)
        batch = (mnist_cnn.to_input(mnist.train_images[idx]),
                 mnist.train_labels[idx].astype(np.intp))
        p_jit, s_jit, loss_jit = jitted(p_jit, s_jit, batch)
        p_eager, s_eager, loss_eager = step(p_eager, s_eager, batch)
        assert np.asarray(loss_jit).dtype == np.float32
        assert _relative_difference(loss_jit, loss_eager) <= 1e-6, i
    assert jitted.trace_count == 1  # the step count is an array: no retrace per step
    assert int(s_jit.step) == int(s_eager.step) == STEP_COUNT
    # params and optimizer state, leaf by leaf
    leaves_jit, def_jit = tree.flatten((p_jit, s_jit))
    leaves_eager, def_eager = tree.flatten((p_eager, s_eager))
    assert def_jit == def_eager
    for path, a, b in zip(def_eager.leaf_paths(), leaves_jit, leaves_eager):
        assert np.asarray(a).dtype == np.asarray(b).dtype, path
        assert _relative_difference(a, b) <= 1e-6, path
    # the runs did train: the weights moved from their start
    for name in params:
        assert _relative_difference(p_jit[name]["w"], params[name]["w"]) > 1e-4, name


def test_train_with_and_without_jit_agree(mnist: Mnist) -> None:
    config = dataclasses.replace(SMALL, epochs=1, limit=192)
    runs = [train(config, mnist, test_limit=50, progress=False, jit=jit, log=_quiet)
            for jit in (True, False)]
    for a, b in zip(tree.leaves(runs[0].params), tree.leaves(runs[1].params)):
        assert _relative_difference(a, b) <= 1e-6
    assert runs[0].history[0].train_loss == pytest.approx(runs[1].history[0].train_loss,
                                                          rel=1e-6)


# ---------------------------------------------------------------------------------------
# Resuming.


@pytest.mark.parametrize("stop_after", [3, 10, 13])
def test_resume_gives_bitwise_the_uninterrupted_result(
        mnist: Mnist, small_reference: TrainState, tmp_path: Path, stop_after: int) -> None:
    # 3 and 13 stop in the middle of epoch 1 and 2; 10 right after epoch 1's last minibatch.
    ck = tmp_path / "ck.npz"
    stopped = train(SMALL, mnist, checkpoint=ck, stop_after_steps=stop_after,
                    test_limit=SMALL_TEST, progress=False, log=_quiet)
    assert stopped.step == stop_after
    loaded, config = load_checkpoint(ck, make_model())
    assert config == SMALL and loaded.step == stop_after
    assert (loaded.epoch, loaded.step_in_epoch) == divmod(stop_after, 10)
    resumed = train(SMALL, mnist, checkpoint=ck, resume=True, test_limit=SMALL_TEST,
                    progress=False, log=_quiet)
    assert resumed.step == small_reference.step == 20
    _assert_bitwise_equal(resumed.params, small_reference.params)
    _assert_bitwise_equal(resumed.opt_state, small_reference.opt_state)
    assert ([r.test_accuracy for r in resumed.history]
            == [r.test_accuracy for r in small_reference.history])
    assert ([r.train_loss for r in resumed.history]
            == [r.train_loss for r in small_reference.history])
    # the checkpoint at the end holds the final state
    final, _ = load_checkpoint(ck, make_model())
    _assert_bitwise_equal(final.params, small_reference.params)


def test_checkpoint_every_k_steps_and_resume(mnist: Mnist, small_reference: TrainState,
                                             tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"
    steps_seen: list[int] = []
    original = mnist_cnn.save_checkpoint

    def spy(path: str | Path, state: TrainState, config: Config) -> None:
        steps_seen.append(state.step)
        original(path, state, config)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mnist_cnn, "save_checkpoint", spy)
        train(SMALL, mnist, checkpoint=ck, checkpoint_every=4, stop_after_steps=14,
              test_limit=SMALL_TEST, progress=False, log=_quiet)
    # every 4 steps, at the end of epoch 1 (after step 10), and at the stop
    assert steps_seen == [4, 8, 10, 12, 14]
    resumed = train(SMALL, mnist, checkpoint=ck, resume=True, test_limit=SMALL_TEST,
                    progress=False, log=_quiet)
    _assert_bitwise_equal(resumed.params, small_reference.params)


def test_resume_with_other_settings_is_an_error(mnist: Mnist, tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"
    train(SMALL, mnist, checkpoint=ck, stop_after_steps=2, test_limit=SMALL_TEST,
          progress=False, log=_quiet)
    other = dataclasses.replace(SMALL, lr=2e-3)
    with pytest.raises(CheckpointError, match=r"lr: checkpoint 0\.001, now 0\.002") as info:
        train(other, mnist, checkpoint=ck, resume=True, progress=False, log=_quiet)
    assert str(ck) in str(info.value)


# ---------------------------------------------------------------------------------------
# Checkpoint files.


def _fresh_state(seed: int = 0) -> TrainState:
    return mnist_cnn.init_state(make_model(), dataclasses.replace(SMALL, seed=seed))


def test_checkpoint_round_trip_is_exact(tmp_path: Path) -> None:
    state = dataclasses.replace(
        _fresh_state(), epoch=1, step_in_epoch=3, loss_sum=1.25, images_seen=192, seconds=2.5,
        history=(EpochRecord(1, 0.3, 0.91, 10.0, 1.0, 640),))
    state = dataclasses.replace(state, opt_state=state.opt_state._replace(step=np.asarray(13)))
    ck = tmp_path / "ck.npz"
    save_checkpoint(ck, state, SMALL)
    loaded, config = load_checkpoint(ck, make_model())
    assert config == SMALL
    _assert_bitwise_equal(loaded.params, state.params)
    _assert_bitwise_equal(loaded.opt_state, state.opt_state)
    assert loaded.opt_state.step.dtype == np.int64 and int(loaded.opt_state.step) == 13
    assert (loaded.epoch, loaded.step_in_epoch, loaded.loss_sum, loaded.images_seen,
            loaded.seconds, loaded.history) == (1, 3, 1.25, 192, 2.5, state.history)
    with np.load(ck, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        assert all(npz[name].dtype != object for name in npz.files)
    assert meta["config"]["seed"] == SMALL.seed and meta["step"] == 13
    assert "conv1" in meta["params_structure"]


def test_checkpoint_of_another_model_names_file_and_both_structures(tmp_path: Path) -> None:
    state = _fresh_state()
    params = dict(state.params)
    params["conv1"] = {"w": np.zeros((16, 1, 3, 3), np.float32), "b": np.zeros(16, np.float32)}
    del params["dense1"]
    other = TrainState(params, optim.adam().init(params))
    ck = tmp_path / "other.npz"
    save_checkpoint(ck, other, SMALL)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(ck, make_model())
    message = str(info.value)
    assert str(ck) in message
    assert "in the checkpoint" in message and "the model expects" in message
    assert repr(tree.structure(params)) in message
    assert repr(tree.structure(state.params)) in message
    assert "float32[16, 1, 3, 3]" in message and "float32[32, 1, 3, 3]" in message


def test_checkpoint_with_wrong_leaf_shape_is_an_error(tmp_path: Path) -> None:
    state = _fresh_state()
    params = dict(state.params)
    params["dense2"] = {"w": np.zeros((128, 5), np.float32), "b": np.zeros(5, np.float32)}
    ck = tmp_path / "ck.npz"
    save_checkpoint(ck, TrainState(params, optim.adam().init(params)), SMALL)
    with pytest.raises(CheckpointError, match=r"float32\[128, 5\]") as info:
        load_checkpoint(ck, make_model())
    assert str(ck) in str(info.value)


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ck = tmp_path / "ck.npz"
    old = _fresh_state(seed=1)
    save_checkpoint(ck, old, SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]
    before = ck.read_bytes()

    def crash(file: Any, *args: Any, **kwargs: Any) -> None:
        file.write(b"PK\x03\x04 half a zip file")  # part of a write, then the crash
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(ck, _fresh_state(seed=2), SMALL)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]  # no temp file left
    assert ck.read_bytes() == before
    loaded, _ = load_checkpoint(ck, make_model())
    _assert_bitwise_equal(loaded.params, old.params)


def test_checkpoint_with_object_array_is_refused(tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"
    save_checkpoint(ck, _fresh_state(), SMALL)
    with np.load(ck, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["params.0"] = np.array([{"not": "an array"}, None], dtype=object)
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays)  # numpy pickles the object array here
    with pytest.raises(CheckpointError, match="pickle") as info:
        load_checkpoint(evil, make_model())
    assert str(evil) in str(info.value)


def test_missing_and_garbage_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.npz", make_model())
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="junk.npz"):
        load_checkpoint(junk, make_model())
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a mnist_cnn.py checkpoint"):
        load_checkpoint(plain, make_model())


# ---------------------------------------------------------------------------------------
# Pieces and the command line.


def test_random_shift_moves_each_image_within_range() -> None:
    images = np.zeros((200, 28, 28), np.uint8)
    images[:, 14, 10] = 255
    moved = mnist_cnn.random_shift(images, 2, mnist_cnn.batch_rng(0, 0, 0))
    assert moved.shape == images.shape and moved.dtype == np.uint8
    assert images[:, 14, 10].tolist() == [255] * 200  # the input is left alone
    assert (moved.reshape(200, -1).sum(axis=1) == 255).all()  # nothing lost or added
    rows, cols = np.nonzero(moved.reshape(200, 28, 28).max(axis=0))
    offsets = {(int(r) - 14, int(c) - 10) for r, c in zip(rows, cols)}
    assert offsets == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    again = mnist_cnn.random_shift(images, 2, mnist_cnn.batch_rng(0, 0, 0))
    np.testing.assert_array_equal(moved, again)
    other = mnist_cnn.random_shift(images, 2, mnist_cnn.batch_rng(0, 0, 1))
    assert not np.array_equal(moved, other)
    assert mnist_cnn.random_shift(images, 0, mnist_cnn.batch_rng(0, 0, 0)) is images
    # the whole image moves, and zeros come in from the edge
    image = np.random.default_rng(1).integers(1, 256, (1, 28, 28), dtype=np.uint8)
    out = mnist_cnn.random_shift(image, 3, np.random.default_rng(5))[0]
    matches = []
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            expected = np.zeros((28, 28), np.uint8)
            expected[max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)] = \
                image[0, max(-dy, 0):28 - max(dy, 0), max(-dx, 0):28 - max(dx, 0)]
            if np.array_equal(out, expected):
                matches.append((dy, dx))
    assert len(matches) == 1


def test_epoch_order_depends_only_on_seed_and_epoch() -> None:
    a = mnist_cnn.epoch_order(5, 2, 100)
    np.testing.assert_array_equal(a, mnist_cnn.epoch_order(5, 2, 100))
    assert sorted(a.tolist()) == list(range(100))
    assert not np.array_equal(a, mnist_cnn.epoch_order(5, 3, 100))
    assert not np.array_equal(a, mnist_cnn.epoch_order(6, 2, 100))


def test_time_to_target() -> None:
    history = [EpochRecord(1, 0.2, 0.985, 100.0, 5.0, 60000),
               EpochRecord(2, 0.05, 0.991, 90.0, 5.0, 60000),
               EpochRecord(3, 0.03, 0.993, 95.0, 5.0, 60000)]
    assert mnist_cnn.time_to_target(history) == (2, 190.0, 200.0)
    assert mnist_cnn.time_to_target(history[:1]) is None
    assert history[0].images_per_second == 600.0


def test_model_shapes_and_parameter_count() -> None:
    rows = make_model().shapes()
    assert rows[-1] == ("dense2", (-1, 10), 1290)
    assert dict((name, shape) for name, shape, _ in rows)["relu2"] == (-1, 64, 11, 11)
    assert sum(count for _, _, count in rows) == 320 + 18496 + 204928 + 1290


def test_help_lists_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        mnist_cnn.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--epochs", "--batch-size", "--lr", "--seed", "--data", "--out", "--limit",
                 "--checkpoint", "--resume", "--no-jit", "--quick"):
        assert flag in text


def test_no_jit_flag_reaches_train(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[bool] = []

    def fake_train(config: Config, data: Mnist, **kwargs: Any) -> TrainState:
        seen.append(kwargs["jit"])
        return mnist_cnn.init_state(make_model(), config)  # no epoch done: main stops here

    monkeypatch.setattr(mnist_cnn, "train", fake_train)
    for flags in ([], ["--no-jit"]):
        assert mnist_cnn.main(["--quick", "--data", str(mnist_dir), *flags]) == 0
    assert seen == [True, False]
    text = capsys.readouterr().out
    assert "; jitted training step" in text and "; un-jitted training step" in text


def test_default_settings() -> None:
    args = mnist_cnn.make_parser().parse_args([])
    config = mnist_cnn.resolve_config(args)
    assert config == Config(epochs=mnist_cnn.DEFAULT_EPOCHS, batch_size=128, lr=1e-3, seed=0,
                            limit=None, shift=2)
    assert config.epochs <= 5


def test_quick_mode_end_to_end_writes_pngs(mnist_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert mnist_cnn.main(["--quick", "--data", str(mnist_dir), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "final test accuracy" in text and "time to 99%" in text
    names = sorted(p.name for p in out.iterdir())
    assert names == ["mnist_activation_max.png", "mnist_gradcam.png", "mnist_kernels.png"]
    for name in names:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 2000


def test_command_line_resume(mnist_dir: Path, mnist: Mnist, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    ck = tmp_path / "run.npz"
    common = ["--data", str(mnist_dir), "--checkpoint", str(ck), "--out", str(tmp_path / "out")]
    first = ["--limit", "320", "--batch-size", "64", "--epochs", "2", "--seed", "4",
             "--lr", "1e-3", "--shift", "1", "--stop-after-steps", "7", "--quick"]
    assert mnist_cnn.main(first + common) == 0
    assert "stopped after step 7" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()  # stopped runs draw nothing
    # other settings than the checkpoint's are refused, the same ones are fine
    assert mnist_cnn.main(["--resume", "--lr", "0.01"] + common) == 1
    assert "--lr 0.01 (the checkpoint has 0.001)" in capsys.readouterr().err
    assert mnist_cnn.main(["--resume", "--quick", "--seed", "4"] + common) == 0
    assert "resumed from" in capsys.readouterr().out
    final, config = load_checkpoint(ck, make_model())
    assert config == Config(epochs=2, batch_size=64, lr=1e-3, seed=4, limit=320, shift=1)
    reference = train(config, mnist, test_limit=10, progress=False, log=_quiet)
    _assert_bitwise_equal(final.params, reference.params)
    assert len(os.listdir(tmp_path / "out")) == 3


def test_piped_output_has_one_line_per_epoch_and_no_carriage_returns(mnist_dir: Path,
                                                                      tmp_path: Path) -> None:
    result = run_example("mnist_cnn", tmp_path, "--data", str(mnist_dir), "--quick",
                         "--limit", "128", "--batch-size", "64", "--epochs", "3",
                         "--stop-after-steps", "4")
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout and "\r" not in result.stderr
    # stderr: the training phase of each epoch; stdout: its evaluation; the third epoch is
    # stopped before its first step, so it reports nothing
    progress = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert [line.split(",")[0] for line in progress] == ["epoch 1/3: 2/2 batch",
                                                         "epoch 2/3: 2/2 batch"]
    for epoch in (1, 2):
        assert result.stdout.count(f"epoch {epoch}/3: train loss") == 1
    assert "epoch 3/3" not in result.stdout and "stopped after step 4" in result.stdout
